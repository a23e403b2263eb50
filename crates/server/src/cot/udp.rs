//! CoT detections over UDP, as drone ground stations and TAK devices send them: one event
//! per datagram, as CoT XML or in the TAK protocol mesh framing (`0xbf 0x01 0xbf`, then the
//! protobuf message). The socket listens on a unicast address, or joins a multicast group
//! (TAK's situational-awareness convention is 239.2.3.1:6969) on a chosen interface.
//!
//! A datagram has no connection to authenticate, so truce takes one only from a sender
//! address in the allowed networks (loopback by default) and only when it reports a
//! registered drone, camera or radar whose key the adapter holds; everything else is
//! dropped, with its reason in the server's log and a count in `/metrics`
//! (`truce_cot_datagrams_total{outcome}`: logged, refused, ignored, not_allowed). Nothing
//! is sent back: UDP CoT has no reply.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::IpNet;
use tokio::net::UdpSocket;

use super::{Keys, Via, ingest};
use crate::state::AppState;

/// The networks datagrams are taken from when none are configured.
pub const DEFAULT_ALLOW: [&str; 2] = ["127.0.0.0/8", "::1/128"];

/// Parses the allowed sender networks (`10.0.0.0/8`, or a single address).
pub fn allowed_networks(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|text| {
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{text:?} is not a network (address/prefix) or an address"))
        })
        .collect()
}

/// A socket bound to `addr`; when it is a multicast group, the socket joins it on
/// `interface` (the address of a local interface; 0.0.0.0 lets the system choose) and
/// shares the port with other listeners of the group.
pub fn bind(addr: SocketAddr, interface: Ipv4Addr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let group = match addr.ip() {
        IpAddr::V4(ip) if ip.is_multicast() => Some(ip),
        IpAddr::V6(ip) if ip.is_multicast() => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "IPv6 multicast groups are not supported; use an IPv4 group",
            ));
        }
        _ => None,
    };
    if group.is_some() {
        socket.set_reuse_address(true)?;
    }
    socket.bind(&addr.into())?;
    if let Some(group) = group {
        socket.join_multicast_v4(&group, &interface)?;
    }
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Takes datagrams until the process ends.
pub async fn run(state: AppState, socket: UdpSocket, keys: Option<Keys>, allow: Vec<IpNet>) {
    // A UDP datagram holds at most 65,507 bytes of payload: this takes any whole.
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                tracing::warn!(error = %e, "CoT UDP receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let label = match take(&state, &keys, &allow, peer, &buf[..n]).await {
            Ok(index) => {
                tracing::info!(%peer, index, "CoT UDP detection logged");
                "logged"
            }
            Err(Refused { why, outcome }) if outcome == "refused" => {
                tracing::info!(%peer, why, "CoT UDP datagram refused");
                outcome
            }
            // A shared group carries every device's position reports, chat and markers, and
            // may carry other networks' traffic: not worth a line each at the default level.
            Err(Refused { why, outcome }) => {
                tracing::debug!(%peer, why, outcome, "CoT UDP datagram not taken");
                outcome
            }
        };
        state.metrics.cot_datagram(label);
    }
}

/// Why a datagram was not taken, and the outcome it is counted as: `not_allowed` (from
/// outside the allowed networks), `ignored` (CoT naming no reporting sensor: a device's
/// own position report, a ping, chat) or `refused` (a detection, or meant as one, that
/// fails a check).
struct Refused {
    why: String,
    outcome: &'static str,
}

/// One datagram: its log index, or why it was refused.
async fn take(
    state: &AppState,
    keys: &Option<Keys>,
    allow: &[IpNet],
    peer: SocketAddr,
    datagram: &[u8],
) -> Result<u64, Refused> {
    let from = match peer.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let refused = |why: String| Refused {
        why,
        outcome: "refused",
    };
    if !allow.iter().any(|net| net.contains(&from)) {
        return Err(Refused {
            why: format!("{from} is not in the allowed networks (cot_udp_allow)"),
            outcome: "not_allowed",
        });
    }
    let (detection, media_type) = match truce_cot::datagram_detection(datagram) {
        Ok(got) => got,
        Err(e) => {
            return Err(Refused {
                outcome: if e.is_chatter() { "ignored" } else { "refused" },
                why: e.to_string(),
            });
        }
    };
    ingest(
        state,
        keys,
        detection,
        datagram,
        media_type,
        &Via::Datagram { from },
    )
    .await
    .map_err(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_networks_are_networks_or_addresses() {
        let nets = allowed_networks(&["10.1.0.0/16".into(), "192.0.2.7".into()]).unwrap();
        let has = |ip: &str| {
            nets.iter()
                .any(|n| n.contains(&ip.parse::<IpAddr>().unwrap()))
        };
        assert!(has("10.1.200.3") && has("192.0.2.7"));
        assert!(!has("10.2.0.1") && !has("192.0.2.8"));
        let err = allowed_networks(&["10.1/33".into()]).unwrap_err();
        assert!(err.contains("10.1/33"), "{err}");
        let defaults: Vec<String> = DEFAULT_ALLOW.iter().map(|s| s.to_string()).collect();
        assert_eq!(allowed_networks(&defaults).unwrap().len(), 2);
    }
}
