package e2e

import (
	"fmt"
	"net"
	"os"
	"testing"
)

// canaryAddrs are addresses scripts/e2e adds to lo inside the namespace:
// each stands for a destination the proxy must refuse. Listeners on them
// count connections; every test asserts they saw none.
var canaryAddrs = []string{
	"127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "192.168.1.1",
	"100.100.100.200", "172.16.0.1", "100.64.0.1", "fd00:ec2::254",
}

func TestMain(m *testing.M) {
	if os.Getenv("TOLLGATE_BIN") == "" {
		fmt.Fprintln(os.Stderr, "e2e: TOLLGATE_BIN is not set; run `make e2e` (scripts/e2e), which builds the binary and enters a private network namespace.")
		os.Exit(1)
	}
	if err := onlyLoopback(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: refusing to run outside a private network namespace: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// onlyLoopback fails when any interface other than loopback is up: the
// tests point the proxy at addresses that must never leave this machine.
func onlyLoopback() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 && i.Flags&net.FlagUp != 0 {
			return fmt.Errorf("interface %s is up", i.Name)
		}
	}
	return nil
}
