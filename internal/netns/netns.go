// Package netns runs a test again inside a network namespace of its own,
// for tests of live capture: the namespace and the links the test makes in
// it disappear with the process, and nothing outside it is addressed.
package netns

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// env is set in the copy of the test binary that runs in the namespace.
const env = "ABT_NETNS_TEST"

// Inside reports whether this process is the copy of the test binary that
// Run started in a namespace.
func Inside() bool { return os.Getenv(env) != "" }

// Veths is the set-up most tests need: two veth pairs, a0–a1 and b0–b1,
// up, without IPv6 (whose neighbour discovery would add frames), and the
// loopback up.
const Veths = `sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link set lo up
ip link add a0 type veth peer name a1
ip link add b0 type veth peer name b1
for l in a0 a1 b0 b1; do ip link set "$l" up; done`

// Run runs test name (a top-level test of the calling package) again in a
// new network namespace (and mount namespace) after the shell commands setup, and reports its
// result as this test's. It returns true in that copy, where the test is
// to run, and false here, where the test has been run. It skips when the
// machine cannot make namespaces (not root, no unshare or ip).
func Run(t *testing.T, name, setup string) bool {
	t.Helper()
	if Inside() {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	for _, tool := range []string{"unshare", "ip", "sysctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s for a network namespace", tool)
		}
	}
	script := "set -e\n" + setup + "\nexec \"$0\" -test.run \"^$1\\$\" -test.v"
	// A mount namespace too: what the test mounts (a small tmpfs) is its own.
	cmd := exec.Command("unshare", "-n", "-m", "sh", "-c", script, os.Args[0], name)
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "unshare:") {
		t.Skipf("cannot make a network namespace: %s", out)
	}
	t.Logf("in a network namespace:\n%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s failed in its network namespace: %v", name, err)
	}
	return false
}
