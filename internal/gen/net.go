package gen

import (
	"fmt"
	"net/netip"
)

// Well-known public destinations of benign background traffic.
var (
	ipUbuntuMirrors = []string{"91.189.91.82", "91.189.91.83", "185.125.190.36", "185.125.190.39", "91.189.91.81", "185.125.190.81"}
	ipDebianMirrors = []string{"151.101.2.132", "151.101.66.132", "151.101.130.132", "151.101.194.132"}
	ipGithub        = []string{"140.82.112.3", "140.82.112.4", "140.82.113.3", "140.82.114.4", "140.82.121.4"}
	ipPypi          = []string{"151.101.0.223", "151.101.64.223", "151.101.128.223", "151.101.192.223"}
	ipDocker        = []string{"44.205.64.79", "3.216.34.172", "54.227.20.253", "104.16.99.215"}
	ipNTP           = []string{"185.125.190.56", "185.125.190.57", "185.125.190.58", "91.189.91.157"}
	ipDNS           = []string{"1.1.1.1", "8.8.8.8", "9.9.9.9", "1.0.0.1"}
	ipElasticCloud  = []string{"35.190.66.216", "34.120.127.130", "35.244.247.157"}
	ipHealthcheck   = []string{"172.67.71.81", "104.26.6.179"}
	ipAPIs          = []string{"52.94.236.248", "54.187.216.72", "18.154.227.105", "142.250.74.110", "13.107.42.14"}
	ipClients       = []string{"81.2.69.160", "89.160.20.112", "175.16.199.14", "216.160.83.57", "67.43.156.3"}
)

// Internal services.
const (
	ipFleet    = "10.0.0.5"
	ipResolver = "10.0.0.2"
	ipLB1      = "10.0.0.21"
	ipLB2      = "10.0.0.22"
	ipK8sAPI   = "10.0.4.1"
	ipMetadata = "169.254.169.254"
	ipStub     = "127.0.0.53"
)

func (g *Generator) privateIP() string {
	switch g.intn(4) {
	case 0:
		return fmt.Sprintf("10.%d.%d.%d", 11+g.intn(6), g.intn(4), 4+g.intn(200))
	case 1:
		return fmt.Sprintf("10.0.%d.%d", g.intn(8), 2+g.intn(250))
	case 2:
		return fmt.Sprintf("10.14.%d.%d", g.intn(4), 10+g.intn(200)) // VPN clients
	default:
		return fmt.Sprintf("10.%d.%d.%d", 11+g.intn(6), g.intn(2), 4+g.intn(60))
	}
}

// Address ranges that the APT network connection rule treats as non-public
// (ECS reserved ranges); see publicIPv4.
var reservedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24",
		"192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
		"224.0.0.0/4", "240.0.0.0/4", "::1/128", "fe80::/10", "ff00::/8", "fc00::/7",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

func isReserved(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return true
	}
	for _, p := range reservedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// publicIPv4 draws a random routable public IPv4 address, as attacker
// infrastructure would have.
func (g *Generator) publicIPv4() string {
	for {
		ip := fmt.Sprintf("%d.%d.%d.%d", 1+g.intn(223), g.intn(256), g.intn(256), 1+g.intn(254))
		if !isReserved(ip) {
			return ip
		}
	}
}

// publicIPv6 draws a random global unicast IPv6 address.
func (g *Generator) publicIPv6() string {
	prefixes := []string{"2a01:4f8", "2a03:b0c0", "2604:a880", "2001:19f0", "2a05:d018"}
	s := fmt.Sprintf("%s:%x:%x::%x", pick(g, prefixes), g.intn(0x10000), g.intn(0x10000), 1+g.intn(0xfffe))
	return netip.MustParseAddr(s).String()
}

// nonPublicIP draws an address excluded by the APT network connection rule,
// with a name for the range.
func (g *Generator) nonPublicIP() (ip, what string) {
	switch g.intn(12) {
	case 0:
		return fmt.Sprintf("10.%d.%d.%d", g.intn(256), g.intn(256), 1+g.intn(254)), "10/8"
	case 1:
		return fmt.Sprintf("172.%d.%d.%d", 16+g.intn(16), g.intn(256), 1+g.intn(254)), "172.16/12"
	case 2:
		return fmt.Sprintf("192.168.%d.%d", g.intn(256), 1+g.intn(254)), "192.168/16"
	case 3:
		return fmt.Sprintf("100.%d.%d.%d", 64+g.intn(64), g.intn(256), 1+g.intn(254)), "100.64/10"
	case 4:
		return ipMetadata, "169.254/16"
	case 5:
		return "127.0.0.1", "127/8"
	case 6:
		return fmt.Sprintf("172.31.%d.%d", g.intn(256), 1+g.intn(254)), "172.31/16"
	case 7:
		return fmt.Sprintf("203.0.113.%d", 1+g.intn(254)), "203.0.113/24"
	case 8:
		return fmt.Sprintf("198.%d.%d.%d", 18+g.intn(2), g.intn(256), 1+g.intn(254)), "198.18/15"
	case 9:
		return "::1", "::1"
	case 10:
		s := fmt.Sprintf("fe80::%x:%x:%x:%x", g.intn(0x10000), g.intn(0x10000), g.intn(0x10000), 1+g.intn(0xfffe))
		return netip.MustParseAddr(s).String(), "fe80::/10"
	default:
		return "0.0.0.0", "0.0.0.0"
	}
}
