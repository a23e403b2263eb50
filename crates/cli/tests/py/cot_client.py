"""A TAK client for truce's Cursor-on-Target output, built on the real third-party
libraries: pytak opens the TCP connection (from a COT_URL, as any pytak app does) and
takproto decodes the TAK protobuf frames after the TAK negotiation.

Usage: python cot_client.py HOST PORT TOKEN SOURCE
Sends detections reported by SOURCE (a good one, a malformed one, a chat message, one from
an unknown source) and collects truce's notes on each; prints one JSON object: the XML
events received before the switch, the notes, the negotiation, and the protobuf events
decoded after it.
"""
import asyncio
import configparser
import json
import re
import sys
import xml.etree.ElementTree as ET

import pytak
import takproto


NOTES = []
NOTE = re.compile(rb"<!-- truce: (.*?) -->\s*", re.S)


async def read_xml_events(reader, want, buffer=b"", timeout=60):
    """CoT XML events until `want` has matched one (split at each </event>), starting with
    what an earlier call left in `buffer`; returns them and what follows. truce's notes
    (XML comments) are collected in NOTES."""
    events = []
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        buffer = take_notes(buffer)
        while b"</event>" in buffer:
            raw, buffer = buffer.split(b"</event>", 1)
            try:
                event = ET.fromstring(raw + b"</event>")
            except ET.ParseError as e:
                raise SystemExit(f"not a CoT event ({e}): {raw[:400]!r}")
            events.append(event)
            if want(event):
                return events, buffer
        chunk = await asyncio.wait_for(reader.read(65536), max(0.1, end - loop.time()))
        if not chunk:
            raise SystemExit(f"connection closed after {len(events)} events")
        buffer += chunk


def varint(data, at):
    shift = value = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def take_notes(buffer):
    """Moves truce's notes (XML comments) from `buffer` to NOTES."""
    def note(m):
        NOTES.append(m.group(1).decode())
        return b""
    return NOTE.sub(note, buffer)


async def read_notes(reader, buffer, count, timeout=30):
    """Reads until `count` notes have come; returns what else was read."""
    while True:
        buffer = take_notes(buffer)
        if len(NOTES) >= count:
            return buffer
        chunk = await asyncio.wait_for(reader.read(65536), timeout)
        if not chunk:
            raise SystemExit(f"connection closed with {len(NOTES)} notes")
        buffer += chunk


def detection(source, uid="track-1", cot_type="a-h-G-E-W-R"):
    """A detection as a drone ground station sends it (pytak builds the event)."""
    root = ET.fromstring(pytak.gen_cot(lat=48.16, lon=37.97, ce=25, le=9999999, hae=0,
                                       uid=uid, cot_type=cot_type))
    detail = root.find("detail")
    if detail is None:
        detail = ET.SubElement(root, "detail")
    ET.SubElement(detail, "link", {"uid": source, "relation": "p-p", "type": "a-f-A-M-F-Q"})
    return ET.tostring(root)


async def main(host, port, token, source):
    config = configparser.ConfigParser()
    config["cot"] = {"COT_URL": f"tcp://{host}:{port}"}
    reader, writer = await pytak.protocol_factory(config["cot"])
    writer.write(f"truce-token {token}\n".encode())
    await writer.drain()

    def is_finding(e):
        return e.get("uid", "").startswith("truce-f-")

    events, rest = await read_xml_events(reader, is_finding)
    offer = [e for e in events if e.get("type") == "t-x-takp-v"]

    # Detections in: a good one, a broken one, a chat message, one from nobody.
    for raw in (detection(source),
                b'<event version="2.0" uid="bad" type="a-h-G-E-W-R" time="2026-01-07T11:00:00Z"><point lat="48" lon="37" ce="5"></event>',
                detection(source, uid="chat-1", cot_type="b-t-f"),
                detection("nobody")):
        writer.write(raw)
    await writer.drain()
    rest = await read_notes(reader, rest, 4)
    finding = [e for e in events if is_finding(e)][0]
    point = finding.find("point")
    remarks = finding.find("detail/remarks").text

    # Ask to switch to TAK protocol version 1, as TAK clients do.
    request = pytak.gen_cot(
        lat=0, lon=0, ce=9999999, le=9999999, hae=0, uid="pytak-test", cot_type="t-x-takp-q"
    )
    root = ET.fromstring(request)
    detail = root.find("detail")
    if detail is None:
        detail = ET.SubElement(root, "detail")
    control = ET.SubElement(detail, "TakControl")
    ET.SubElement(control, "TakRequest", {"version": "1"})
    writer.write(ET.tostring(root))
    await writer.drain()
    answer, rest = await read_xml_events(
        reader, lambda e: e.get("type") == "t-x-takp-r", rest, timeout=30
    )
    response = answer[-1].find("detail/TakControl/TakResponse").get("status")

    # Then protobuf frames: 0xbf, varint length, TakMessage.
    buffer = rest
    decoded = []
    while len(decoded) < 3:
        while len(buffer) >= 2 and buffer[0] == 0xBF:
            length, start = varint(buffer, 1)
            if len(buffer) < start + length:
                break
            frame, buffer = buffer[: start + length], buffer[start + length :]
            message = takproto.parse_proto(bytearray(frame))
            event = message.cotEvent
            decoded.append(
                {"uid": event.uid, "type": event.type, "how": event.how, "ce": event.ce,
                 "lat": event.lat, "lon": event.lon, "stale_ms": event.staleTime - event.sendTime,
                 "xml_detail": event.detail.xmlDetail}
            )
        if len(decoded) >= 3:
            break
        chunk = await asyncio.wait_for(reader.read(65536), 30)
        if not chunk:
            break
        buffer += chunk
    # A detection in protobuf, as takproto frames it; then a frame that claims a megabyte,
    # which truce refuses by closing the stream.
    writer.write(takproto.xml2proto(detection(source, uid="track-3", cot_type="a-h-G-E-V-A-T"),
                                    takproto.TAKProtoVer.STREAM))
    await writer.drain()
    await asyncio.sleep(1.0)
    writer.write(bytes([0xBF, 0x80, 0x80, 0x40]) + b"x" * 100)
    await writer.drain()
    closed = False
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                closed = True
                break
    except (asyncio.TimeoutError, ConnectionError):
        pass
    writer.close()
    print(json.dumps({
        "closed_after_bad_frame": closed,
        "offer": len(offer),
        "xml_events": len(events),
        "finding": {"uid": finding.get("uid"), "type": finding.get("type"),
                    "how": finding.get("how"), "stale": finding.get("stale"),
                    "ce": point.get("ce"), "lat": point.get("lat"), "remarks": remarks},
        "notes": NOTES[:4],
        "response": response,
        "protobuf": decoded,
    }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
