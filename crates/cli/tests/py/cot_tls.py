"""A TAK client connecting to truce over TLS with a client certificate, as ATAK connects
to a TAK server: pytak opens the connection from a tls:// COT_URL with the PYTAK_TLS_*
settings (certificate, key, the CA that issued the server's certificate).

Usage: python cot_tls.py HOST PORT CA CERT KEY SOURCE
Sends a detection by SOURCE at once, then reads the server's first event (or its
refusal) and, if admitted, truce's reply to the detection. With CERT and KEY given as
`-`, connects with Python's ssl module and no client certificate at all (pytak always
sends one). Prints one JSON object: the first event's type or the refusal line, the
note, or the TLS error.
"""
import asyncio
import configparser
import json
import re
import ssl
import sys

import pytak

from cot_client import detection


async def main(host, port, ca, cert, key, source):
    config = configparser.ConfigParser()
    config["cot"] = {
        "COT_URL": f"tls://{host}:{port}",
        "PYTAK_TLS_CLIENT_CERT": cert,
        "PYTAK_TLS_CLIENT_KEY": key,
        "PYTAK_TLS_CLIENT_CAFILE": ca,
    }
    out = {}
    try:
        if cert == "-":
            context = ssl.create_default_context(cafile=ca)
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
        else:
            reader, writer = await pytak.protocol_factory(config["cot"])
        # The detection goes first: a refused client must not get it logged either.
        writer.write(detection(source, uid="track-t1"))
        await writer.drain()
        buffer = b""
        while b"</event>" not in buffer and not buffer.endswith(b"\n"):
            chunk = await asyncio.wait_for(reader.read(4096), 10)
            if not chunk:
                break
            buffer += chunk
        if not buffer:
            raise ConnectionError("closed by the server before anything was sent")
        if buffer.startswith(b"truce:"):
            out["refused"] = buffer.decode().strip()
            print(json.dumps(out))
            return
        out["first"] = re.search(rb'type="([^"]+)"', buffer).group(1).decode()
        # truce's reply: a CoT event of type y-a-r (logged) or y-c-f (refused).
        reply = re.compile(rb'<event [^>]*type="(y-a-r|y-c-f)".*?<remarks>(.*?)</remarks>', re.S)
        while not reply.search(buffer):
            chunk = await asyncio.wait_for(reader.read(4096), 10)
            if not chunk:
                break
            buffer += chunk
        found = reply.search(buffer)
        out["note"] = found.group(2).decode() if found else None
        writer.close()
    except (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError) as e:
        out["tls_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:]))
