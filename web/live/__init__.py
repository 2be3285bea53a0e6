"""The live hub: one WebSocket endpoint, its protocol, the bus between processes, live tallies."""
