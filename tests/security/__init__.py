"""Attack tests (issue 13): each hole tried through the real HTTP or WebSocket interface and seen refused."""
