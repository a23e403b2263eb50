"""A drone ground station sending detections to truce over UDP, built on the real
third-party libraries: pytak opens the UDP socket from a COT_URL (unicast, or a multicast
group such as TAK's 239.2.3.1:6969) and takproto writes the TAK protocol mesh framing.

Usage: python cot_udp.py HOST PORT SOURCE [MULTICAST_INTERFACE]
Unicast: sends a good XML detection, a good mesh protobuf detection, one from an
unregistered source, malformed XML, a mesh datagram of protocol version 2, a truncated mesh datagram, and a good
detection from 127.0.0.2 (a sender outside the allowed networks when only 127.0.0.1 is).
Multicast (with MULTICAST_INTERFACE): one good XML detection on the group.
Prints the number of datagrams sent.
"""
import asyncio
import configparser
import socket
import sys

import pytak
import takproto

from cot_client import detection


async def main(host, port, source, interface=None):
    config = configparser.ConfigParser()
    config["cot"] = {"COT_URL": f"udp+wo://{host}:{port}"}
    if interface:
        config["cot"]["PYTAK_MULTICAST_LOCAL_ADDR"] = interface
    _, writer = await pytak.protocol_factory(config["cot"])
    if interface:
        datagrams = [detection(source, uid="track-m1")]
    else:
        mesh = bytes(takproto.xml2proto(detection(source, uid="track-u2", cot_type="a-h-G-E-V-A-T"),
                                        takproto.TAKProtoVer.MESH))
        datagrams = [
            detection(source, uid="track-u1"),
            mesh,
            detection("nobody", uid="track-u3"),
            b'<event version="2.0" uid="bad" type="a-h-G-E-W-R"><point lat="48"',
            b"\xbf\x02\xbf" + mesh[3:],
            mesh[: len(mesh) // 2],
        ]
    for datagram in datagrams:
        await writer.send(datagram)
        await asyncio.sleep(0.05)
    sent = len(datagrams)
    if not interface:
        outsider = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        outsider.bind(("127.0.0.2", 0))
        outsider.sendto(detection(source, uid="track-u4"), (host, port))
        outsider.close()
        sent += 1
    print(sent)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:]))
