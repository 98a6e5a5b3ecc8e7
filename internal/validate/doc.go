// Package validate checks the inference engine against ground truth, after
// section 5 of the adudump paper.
//
// Synthetic client and server applications (cmd/abtsynth) play dialogs
// drawn by [NewPlan] and log what they actually did ([Side] lines: every
// write and every completed read, with wall-clock times). [LoadTruth] merges
// the two logs into the true a-b-t vector of every connection; [Infer] runs
// internal/ingest on the capture taken next to the server; [Compare]
// matches the two by client address and port and measures what the paper's
// Fig. 2 and 3 show: ADU sizes and think times, actual against measured,
// the connections whose ADU vector is exactly right, and every mismatch with
// its cause where the ground truth explains it. [WriteReport] renders the
// result as Markdown with PNG plots.
//
// The package does not create namespaces or capture packets: scripts/validate.sh
// does, with abtsynth. It needs no privilege, so the committed captures under
// testdata/validation are checked by go test.
//
// Limitations: think times measured at the monitor include the network path
// between monitor and the thinking side; the monitor sits next to the
// server, so a client's think time is measured one round trip too long and is
// reported apart from the server's. Causes are attributed from the logs and
// the monitor's record times, not from a packet-by-packet reconstruction.
package validate
