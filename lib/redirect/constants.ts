// Istio's in-pod capture constants (fact sheet §2.1): the ports ztunnel listens on inside a pod,
// the marks that tell ztunnel's own packets apart, the policy-routing table, the probe SNAT
// addresses and the names of every chain, table and set we own. Values only; no logic.

/** ztunnel's listeners inside the pod netns. */
export const OUTBOUND_PORT = 15001;
export const INBOUND_PLAINTEXT_PORT = 15006;
export const INBOUND_HBONE_PORT = 15008;
export const DNS_CAPTURE_PORT = 15053;
export const DNS_PORT = 53;

/** SO_MARK on every socket ztunnel opens in a pod (ztunnel's PACKET_MARK); rules compare under the mask. */
export const INPOD_MARK = 0x539;
export const INPOD_MASK = 0xfff;
/** Connmark given to connections ztunnel originated inside the pod, restored onto their replies. */
export const INPOD_TPROXY_MARK = 0x111;
export const INPOD_TPROXY_MASK = 0xfff;
/** nfmask/ctmask of restore-mark: the whole connmark becomes the packet mark. Not configurable. */
export const INPOD_RESTORE_MASK = 0xffffffff;

/** Policy routing that hands replies to ztunnel's transparent sockets back to lo. */
export const INPOD_ROUTE_TABLE = 100;
export const INPOD_RULE_PRIORITY = 32764;

/** Source address the node gives kubelet probes, which the pod rules let past ztunnel. */
export const PROBE_SNAT_IPV4 = '169.254.7.127';
export const PROBE_SNAT_IPV6 = 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff';

/** Conntrack zone that keeps DNS flows to and from ztunnel's resolver apart from the app's. */
export const DNS_CONNTRACK_ZONE = 1;

/** iptables flavour: our chains (the same names in mangle, nat and raw) and the host SNAT chain. */
export const IPTABLES_PRERT_CHAIN = 'ISTIO_PRERT';
export const IPTABLES_OUTPUT_CHAIN = 'ISTIO_OUTPUT';
export const IPTABLES_HOST_POSTRT_CHAIN = 'ISTIO_POSTRT';

/** nftables flavour: one inet table per hook type, each with a base chain jumping to a regular one. */
export const NFT_NAT_TABLE = 'istio-ambient-nat';
export const NFT_MANGLE_TABLE = 'istio-ambient-mangle';
export const NFT_RAW_TABLE = 'istio-ambient-raw';
export const NFT_PRERT_CHAIN = 'istio-prerouting';
export const NFT_OUTPUT_CHAIN = 'istio-output';
export const NFT_HOST_POSTRT_CHAIN = 'istio-postrouting';

/** Sets of enrolled pod IPs whose probe traffic the node SNATs (ipset names; nft sets reuse them). */
export const PROBE_SET_IPV4 = 'istio-inpod-probes-v4';
export const PROBE_SET_IPV6 = 'istio-inpod-probes-v6';

/** UID whose sockets the nft host rule SNATs (nft has no --socket-exists); kubelet runs as root. */
export const KUBELET_UID = 0;
