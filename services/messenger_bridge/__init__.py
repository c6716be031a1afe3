"""The messenger_bridge service: conversations, their parts and participants, joining a
ticket's conversation from the portal, and the Messenger tickets space."""
