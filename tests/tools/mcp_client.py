"""The Python MCP SDK's stdio client driving `latchkey mcp connect`, for Latchkey's bridge
tests (the second, independently written client). Usage:

    mcp_client.py URL COMMAND [ARGS...]

runs the bridge as `COMMAND ARGS... mcp connect URL` (COMMAND is `latchkey`, or `wine64`
with `latchkey.exe` as its first argument).

Prints one JSON line: the server's name, the tool names, and an echo's answer.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main() -> None:
    url, command, *prefix = sys.argv[1:]
    params = StdioServerParameters(command=command, args=[*prefix, "mcp", "connect", url], env=dict(os.environ))
    report: dict = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            report["server"] = init.server_info.name
            report["protocol"] = init.protocol_version
            tools = await session.list_tools()
            report["tools"] = sorted(t.name for t in tools.tools)
            answer = await session.call_tool("echo", {"text": "from python"})
            report["echo"] = "".join(getattr(c, "text", "") for c in answer.content)
    print(json.dumps(report), flush=True)


asyncio.run(main())
