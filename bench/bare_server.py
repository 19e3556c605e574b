"""The baseline: a bare aiohttp handler returning pre-built bytes (no parsing, no store),
with the headers it is given (those of the answer it stands in for).

Usage: python bench/bare_server.py PORT BODY_FILE [--uvloop] [--header NAME:VALUE ...]
"""

import sys
from pathlib import Path

import uvloop
from aiohttp import web


def main() -> None:
    port, body = int(sys.argv[1]), Path(sys.argv[2]).read_bytes()
    headers = dict(
        sys.argv[i + 1].split(":", 1) for i, arg in enumerate(sys.argv) if arg == "--header"
    )

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    loop = uvloop.new_event_loop() if "--uvloop" in sys.argv else None
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=loop)


if __name__ == "__main__":
    main()
