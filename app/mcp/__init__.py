"""The site as an MCP server (Model Context Protocol, Streamable HTTP) at /mcp.

`transport` holds the ASGI endpoint and its one access check (API keys only); `tools` the
tools, which call the same access checks and services as the HTTP API.
"""
