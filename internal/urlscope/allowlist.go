package urlscope

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Allowlist is a compiled scope.domains or scope.hosts list. It is immutable
// and safe for concurrent use. A nil or empty Allowlist allows nothing.
type Allowlist struct {
	raw   []string
	all   []entry
	names map[string][]int // exact name → indexes into all
	wild  map[string][]int // wildcard suffix (without "*.") → indexes
	any   []int            // "*" entries
	ips   []int            // IP and CIDR entries
}

// NewAllowlist compiles scope.domains or scope.hosts entries (grammar in the
// package doc). Every invalid entry is reported, each as an *EntryError,
// joined with errors.Join when there are several.
func NewAllowlist(entries []string) (*Allowlist, error) {
	a := &Allowlist{
		raw:   slices.Clone(entries),
		all:   make([]entry, 0, len(entries)),
		names: make(map[string][]int),
		wild:  make(map[string][]int),
	}
	var errs []error
	for i, s := range entries {
		e, reason := parseEntry(s)
		if reason != "" {
			errs = append(errs, &EntryError{Index: i, Entry: s, Reason: reason})
			continue
		}
		n := len(a.all)
		a.all = append(a.all, e)
		switch e.kind {
		case kindName:
			a.names[e.host] = append(a.names[e.host], n)
		case kindWildcard:
			a.wild[e.host] = append(a.wild[e.host], n)
		case kindAny:
			a.any = append(a.any, n)
		case kindIP, kindCIDR:
			a.ips = append(a.ips, n)
		}
	}
	switch len(errs) {
	case 0:
		return a, nil
	case 1:
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

// Entries returns the entries as given.
func (a *Allowlist) Entries() []string {
	if a == nil {
		return nil
	}
	return slices.Clone(a.raw)
}

// target is a normalised host under judgement.
type target struct {
	host    string
	ip      netip.Addr
	private bool
}

// resolveTarget re-normalises a host given by a caller, so that a URL built
// by hand is judged as Parse would have made it. A valid IP wins over the
// name: it is what would be contacted.
func resolveTarget(host string, ip netip.Addr) (target, string) {
	if ip.IsValid() {
		ip = ip.WithZone("").Unmap()
		return target{host: ip.String(), ip: ip}, ""
	}
	if host == "" {
		return target{}, "the URL has no host"
	}
	var h string
	var err error
	if isASCII(host) {
		// For ASCII, parseHost refuses all that checkText would; skipping
		// checkText halves the cost of the common case.
		h, ip, err = parseHost(host)
	}
	if err != nil || !isASCII(host) {
		if h, ip, err = ParseHost(host); err != nil {
			return target{}, err.Error()
		}
	}
	if ip.IsValid() {
		return target{host: h, ip: ip}, ""
	}
	return target{host: h, private: isPrivateName(h)}, ""
}

// candidates calls fn with every entry whose host part matches t, stopping
// when fn returns true.
func (a *Allowlist) candidates(t target, fn func(e *entry) bool) {
	if t.ip.IsValid() {
		for _, i := range a.ips {
			if a.all[i].prefix.Contains(t.ip) && fn(&a.all[i]) {
				return
			}
		}
		return
	}
	for _, i := range a.names[t.host] {
		if fn(&a.all[i]) {
			return
		}
	}
	// Every proper suffix, at any depth: a.b.example.com tries
	// b.example.com, example.com, com.
	for h := t.host; ; {
		dot := strings.IndexByte(h, '.')
		if dot < 0 {
			break
		}
		h = h[dot+1:]
		for _, i := range a.wild[h] {
			if fn(&a.all[i]) {
				return
			}
		}
	}
	if !t.private {
		for _, i := range a.any {
			if fn(&a.all[i]) {
				return
			}
		}
	}
}

// AllowURL reports whether u may be requested, with a reason when it may
// not. The host, scheme and port must all be allowed by one entry, and the
// URL must carry no user info (see the package doc for the rules).
func (a *Allowlist) AllowURL(u URL) (ok bool, reason string) {
	t, msg := resolveTarget(u.Host, u.IP)
	if msg != "" {
		return false, msg
	}
	if a == nil {
		return false, a.hostReason(t)
	}
	hostOK, schemeOK := false, false
	a.candidates(t, func(e *entry) bool {
		hostOK = true
		if e.schemeOK(u.Scheme) {
			schemeOK = true
			ok = e.portOK(u.Scheme, u.Port)
		}
		return ok
	})
	switch {
	case !hostOK:
		return false, a.hostReason(t)
	case !schemeOK:
		return false, a.schemeReason(t, u.Scheme)
	case !ok:
		return false, a.portReason(t, u.Scheme, u.Port)
	case u.Userinfo:
		return false, fmt.Sprintf("the URL for %s carries user info (user@), which is not allowed; send credentials in a header", t.host)
	}
	return true, ""
}

// AllowHost is AllowURL for a bare host, as for a DNS look-up: any entry
// whose host part matches allows it, whatever its scheme and port. host is
// re-normalised; when ip is valid it is what is judged, and a host that
// names a different address is refused.
func (a *Allowlist) AllowHost(host string, ip netip.Addr) (ok bool, reason string) {
	if ip.IsValid() && host != "" {
		_, hip, err := ParseHost(host)
		if err != nil {
			return false, err.Error()
		}
		if hip.IsValid() && hip != ip.WithZone("").Unmap() {
			return false, fmt.Sprintf("host %s does not match IP address %s", quote(host), ip)
		}
	}
	t, msg := resolveTarget(host, ip)
	if msg != "" {
		return false, msg
	}
	if a != nil {
		a.candidates(t, func(*entry) bool { ok = true; return true })
	}
	if !ok {
		return false, a.hostReason(t)
	}
	return true, ""
}
