"""The read side: per-company projections of tickets for the portal and for teammates.

* ``read_model``: the state (contacts, companies, tickets, conversations, settings) and the
  public methods that change it, recording what changed; the people index of the
  Messenger tickets space.
* ``event_handlers``: one handler per event type in one table (pure; internal notes and
  attributes are dropped on arrival).
* ``documents``: the stored form of each kind of state, one table for saving and restoring.
* ``search_index``: per-company bitset index, prefix vocabulary, numpy sort keys; a
  ticket's words are taken again from its text when it changes, never kept.
* ``text``: normalization, query parsing, highlighting, relative times.
* ``queries``: access rules and every answer (table, search, preview, details, spaces).
* ``storage``: generations of documents with checkpoint, on SQLite or MongoDB.
* ``projector``: follows the store into a generation, checks every event's contract,
  parks failing events.
* ``snapshot``: the served model and index in a local file, so a restart need not load and
  index the generation again.
* ``ops``: rebuild, status, parked events and their retry (``portalctl`` calls them).
* ``dependencies`` / ``service``: the nameko shell (prompts, timer, RPC).

Measured on this project's machines (2 cores) with ``bench.datagen``'s data sets: a
search or page of a 10,000-ticket company (common words, one-letter prefixes, filters,
sorts) answers in 1-3 ms inside the service (19,000 tickets: 2-3 ms); ``portalctl
rebuild`` folds 1,000,000 events in about 14 s (about 70,000 events/s); loading that
projection (95,000 tickets) and indexing it takes about 13 s, in slices that leave the
hub free at least every 10 ms at p99, and peaks at about 1.2 GB (1.4 GB before token sets
stopped being kept); the 50,000-ticket set holds about 330 MiB once loaded.
"""
