"""MCP, the Model Context Protocol: coding agents use this memory through tools. The tool
table (`tools.py`, arguments in `args.py`) is served by one MCP server (`server.py`) over
Streamable HTTP at /mcp on the web process (`http.py`) and over stdio by `memanto mcp`
(`cli/mcp.py`)."""

from memanto_redis.api.mcp.http import route, with_sessions

__all__ = ["route", "with_sessions"]
