// Turns the single mongod of the compose stack into a one-node replica set (the event store
// appends in multi-document transactions, which need one). Safe to run repeatedly.
try {
  rs.status();
  print("replica set already initiated");
} catch (error) {
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
  print("replica set initiated");
}
