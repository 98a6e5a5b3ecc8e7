package ingest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/abt-dev/abt/internal/ingest"
)

// table2 rebuilds, packet by packet, the connection of Table 2 of the
// adudump paper. The ADU lines fix the data segments: the 163-byte request
// ends 542 µs before the first response byte, the 2886-byte response (two
// segments) ends 45,041 µs before the 198-byte request, and so on. The
// handshake's SYN-ACK time is ours (the paper's output has no RTT line).
var table2 = []step{
	{us: 650917, c2s: true, flags: "S"},
	{us: 681291, flags: "SA", ack: 1},
	{us: 681395, c2s: true, flags: "A", seq: 1, ack: 1},
	{us: 688206, c2s: true, flags: "PA", seq: 1, ack: 1, n: 163},
	{us: 688748, flags: "A", seq: 1, ack: 164, n: 1448},
	{us: 688772, flags: "PA", seq: 1449, ack: 164, n: 1438},
	{us: 688900, c2s: true, flags: "A", seq: 164, ack: 2887},
	{us: 733813, c2s: true, flags: "PA", seq: 164, ack: 2887, n: 198},
	{us: 738254, flags: "PA", seq: 2887, ack: 362, n: 59},
	{us: 760000, c2s: true, flags: "A", seq: 362, ack: 2946},
	{us: 801408, flags: "FA", seq: 2946, ack: 362},
	{us: 821701, c2s: true, flags: "FA", seq: 362, ack: 2947},
	{us: 850000, flags: "A", seq: 2947, ack: 363},
}

func TestTable2(t *testing.T) {
	out, st, recs := run(t, ingest.DefaultOptions(), newScript(), table2)
	require.Equal(t, lines(
		"SYN: 1202706002.650917 1.2.3.4.443 < 5.6.7.8.62015",
		"RTT: 1202706002.681291 1.2.3.4.443 > 5.6.7.8.62015 0.030374",
		"SEQ: 1202706002.681395 1.2.3.4.443 < 5.6.7.8.62015",
		"ADU: 1202706002.688748 1.2.3.4.443 < 5.6.7.8.62015 163 SEQ 0.000542",
		"ADU: 1202706002.733813 1.2.3.4.443 > 5.6.7.8.62015 2886 SEQ 0.045041",
		"ADU: 1202706002.738254 1.2.3.4.443 < 5.6.7.8.62015 198 SEQ 0.004441",
		"ADU: 1202706002.801408 1.2.3.4.443 > 5.6.7.8.62015 59 SEQ",
		"END: 1202706002.821701 1.2.3.4.443 < 5.6.7.8.62015",
	), out)
	require.Equal(t, uint64(1), st.SegsAfterEnd, "the server's last ACK comes after the END")

	end := recs[len(recs)-1]
	require.Equal(t, ingest.KindEND, end.Kind)
	require.Equal(t, ingest.EndFIN, end.Reason)
	sum := end.Conn
	require.Equal(t, int64(30374_000), sum.RTTNs)
	require.Equal(t, int64(104_000), sum.AckRTTNs)
	require.Equal(t, uint32(1), sum.SynAttempts)
	require.Equal(t, uint32(2), sum.Exchanges)
	require.Equal(t, uint64(361), sum.C2S.UniqueBytes)
	require.Equal(t, uint64(2945), sum.S2C.UniqueBytes)
	require.Equal(t, uint64(7), sum.C2S.Pkts)
	require.Equal(t, uint64(5), sum.S2C.Pkts)
	require.Equal(t, uint32(2), sum.C2S.ADUs)
	require.Equal(t, uint32(2), sum.S2C.ADUs)
	require.True(t, sum.C2S.FIN && sum.S2C.FIN)
	require.False(t, sum.Concurrent)
}

// TestTable2NoHold shows the same records come out when holding is off
// (decisions made at once, as the original did).
func TestTable2NoHold(t *testing.T) {
	opts := ingest.DefaultOptions()
	opts.Hold = 0
	out, _, _ := run(t, opts, newScript(), table2)
	require.Contains(t, out, "ADU: 1202706002.801408 1.2.3.4.443 > 5.6.7.8.62015 59 SEQ\nEND:")
}
