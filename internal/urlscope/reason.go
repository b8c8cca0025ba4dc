package urlscope

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// hostReason says why no entry covers the host.
func (a *Allowlist) hostReason(t target) string {
	switch {
	case t.ip.IsValid():
		return fmt.Sprintf("IP address %s is not allowed (IP literals must be listed)", t.ip)
	case t.private:
		return fmt.Sprintf("domain %q is not allowed (private names must be listed exactly)", t.host)
	}
	return fmt.Sprintf("domain %q is not in the allowed list [%s]", t.host, a.listText())
}

// listText renders the entries for a message, cut short for long lists.
func (a *Allowlist) listText() string {
	if a == nil {
		return ""
	}
	const max = 10
	if len(a.raw) <= max {
		return strings.Join(a.raw, ", ")
	}
	return strings.Join(a.raw[:max], ", ") + fmt.Sprintf(", … %d more", len(a.raw)-max)
}

func (a *Allowlist) schemeReason(t target, scheme string) string {
	var allowed []string
	a.candidates(t, func(e *entry) bool {
		if e.scheme == "" {
			allowed = append(allowed, "http", "https")
		} else {
			allowed = append(allowed, e.scheme)
		}
		return false
	})
	return fmt.Sprintf("scheme %q is not allowed for %s (allowed: %s)", scheme, t.host, joinSorted(allowed))
}

func (a *Allowlist) portReason(t target, scheme string, port int) string {
	var ports []int
	anyPort := false
	a.candidates(t, func(e *entry) bool {
		switch {
		case !e.schemeOK(scheme):
		case e.port != 0:
			ports = append(ports, e.port)
		case e.kind == kindCIDR:
			anyPort = true
		default:
			ports = append(ports, defaultPort(scheme))
		}
		return false
	})
	slices.Sort(ports)
	var allowed []string
	for _, p := range slices.Compact(ports) {
		allowed = append(allowed, strconv.Itoa(p))
	}
	if anyPort {
		allowed = append(allowed, "any")
	}
	switch {
	case port == 0 && defaultPort(scheme) == 0:
		return fmt.Sprintf("the URL for %s has no port and scheme %q has no default (allowed: %s)", t.host, scheme, strings.Join(allowed, ", "))
	case port == 0:
		return fmt.Sprintf("the URL for %s has no port (allowed: %s)", t.host, strings.Join(allowed, ", "))
	}
	return fmt.Sprintf("port %d is not allowed for %s (allowed: %s)", port, t.host, strings.Join(allowed, ", "))
}

// joinSorted lists distinct values in order.
func joinSorted(s []string) string {
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ", ")
}
