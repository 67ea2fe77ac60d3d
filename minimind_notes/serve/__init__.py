"""`minimind serve`: an OpenAI-compatible API (/v1/chat/completions, /v1/models, /health) and a chat page.

protocol.py reads requests and writes OpenAI's replies, engine.py runs the model for every client in turn,
app.py ties them to FastAPI routes, static/index.html is the chat page.
"""
