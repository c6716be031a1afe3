"""The HTTP gateway: the portal's and teammates' API, and the portal web page."""
