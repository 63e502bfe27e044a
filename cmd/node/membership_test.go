//go:build unix

package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftlab/raftlab/core"
)

// roleOf returns member id's role in st ("" when not a member).
func roleOf(st clusterStatus, id uint64) string {
	for _, m := range st.Members {
		if m.ID == id {
			return m.Role
		}
	}
	return ""
}

// waitRole waits until member on reports id with role ("" for gone).
func waitRole(t *testing.T, on *Member, id uint64, role string) {
	t.Helper()
	waitFor(t, waitTimeout, fmt.Sprintf("member %d to list member %d as %q", on.ID, id, role), func() (bool, string) {
		st, err := on.Status()
		if err != nil {
			return false, err.Error()
		}
		return roleOf(st, id) == role, fmt.Sprintf("%+v", st.Members)
	})
}

// Membership changes (§6) on a cluster of real processes, with an admin
// token: a 4th member joins with --join; a learner added by an admin
// starts with --join and is promoted; another joins with
// --join-as-learner; a follower is removed, and exits; the leader is
// removed, steps down and exits, and the rest elect a leader and serve.
func TestMembership(t *testing.T) {
	t.Parallel()
	const admin = "admin-secret"
	c := StartCluster(t, ClusterOptions{Size: 3, AdminToken: admin, Flags: []string{"--tick", "50ms"}})
	cl := c.NewClient()
	leader := c.Leader(t)
	follower := c.Followers(t, leader)[0]
	cl.MustPut(t, leader, "before", "the members changed")

	// A 4th member joins through a follower (which forwards to the
	// leader) and catches up.
	m4 := c.NewMember(4)
	m4.Mode = []string{"--join", follower.URL}
	joined := time.Now()
	m4.Start(t)
	cl.WaitValue(t, m4, "before", "serializable", "the members changed")
	waitRole(t, leader, 4, "voter")
	t.Logf("member 4 joined with --join and caught up in %v", time.Since(joined).Round(time.Millisecond))
	cl.MustPut(t, m4, "via-4", "written through the new member")
	cl.WantValue(t, leader, "via-4", "", "written through the new member")

	// A learner: an admin adds it, then it starts with --join, which finds
	// it already added and only learns the cluster's id.
	m5 := c.NewMember(5)
	m5.Mode = []string{"--join", leader.URL}
	r := leader.AdminDo(t, http.MethodPost, "/cluster/members", addMemberRequest{ID: 5, URL: m5.URL, Learner: true})
	if r.Status != http.StatusOK {
		t.Fatalf("add learner 5: %s", r)
	}
	waitRole(t, leader, 5, "learner")
	m5.Start(t)
	cl.WaitValue(t, m5, "via-4", "serializable", "written through the new member")
	waitRole(t, m5, 5, "learner")
	if !strings.Contains(m5.Log(), "already a member") {
		t.Fatalf("member 5's log does not say it found itself added:\n%s", m5.LogTail(20))
	}
	// Promoted, through a follower, once it caught up.
	r = follower.AdminDo(t, http.MethodPost, "/cluster/members/5/promote", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("promote 5: %s", r)
	}
	waitRole(t, leader, 5, "voter")
	waitRole(t, m5, 5, "voter")
	if r := leader.AdminDo(t, http.MethodPost, "/cluster/members/5/promote", nil); r.Status != http.StatusConflict {
		t.Fatalf("promote a voter: %s, want 409", r)
	}

	// --join-as-learner: the member asks to be added as a learner itself.
	m6 := c.NewMember(6)
	m6.Mode = []string{"--join", m4.URL, "--join-as-learner"}
	m6.Start(t)
	waitRole(t, leader, 6, "learner")
	cl.WaitValue(t, m6, "via-4", "serializable", "written through the new member")
	// A learner forwards writes like any member.
	cl.MustPut(t, m6, "via-6", "written through a learner")
	cl.WantValue(t, m5, "via-6", "", "written through a learner")

	// Remove a follower: the cluster applies it, and the removed process
	// exits.
	leader = c.Leader(t)
	victim := c.Followers(t, leader)[0]
	if victim == m6 {
		victim = c.Followers(t, leader)[1]
	}
	r = leader.AdminDo(t, http.MethodDelete, fmt.Sprintf("/cluster/members/%d", victim.ID), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("remove follower %d: %s", victim.ID, r)
	}
	code := victim.WaitExit(t, waitTimeout)
	t.Logf("removed follower %d exited with code %d: %s", victim.ID, code, lastLine(victim.Log()))
	checkRemovedExit(t, victim, code)
	waitRole(t, leader, victim.ID, "")
	cl.MustPut(t, leader, "after-removing-follower", "v")

	// Remove the leader, through itself: it steps down and exits, and the
	// others elect a leader among themselves and keep serving.
	old := leader
	term := old.MustStatus(t).Term
	roles := old.Events(t, EventsFromNow, func(e core.Event) bool { return e.Kind == core.KindRole || e.Kind == core.KindConfChange })
	r = old.AdminDo(t, http.MethodDelete, fmt.Sprintf("/cluster/members/%d", old.ID), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("remove leader %d: %s", old.ID, r)
	}
	removed := time.Now()
	code = old.WaitExit(t, waitTimeout)
	t.Logf("removed leader %d exited with code %d: %s", old.ID, code, lastLine(old.Log()))
	checkRemovedExit(t, old, code)
	// Its last events: the removal applied, then no longer leader.
	roles.WaitEnd(t)
	var sawApplied, steppedDown bool
	for _, e := range roles.Recorded() {
		switch {
		case e.Kind == core.KindConfChange && e.ConfChange.Phase == "applied" && e.ConfChange.Changes == fmt.Sprintf("r%d", old.ID):
			sawApplied = true
		case e.Kind == core.KindRole && sawApplied && e.Role.Role != "leader":
			steppedDown = true
		}
	}
	if !sawApplied || !steppedDown {
		t.Fatalf("removed leader %d's events: removal applied %v, stepped down after %v (stream: %v): %+v", old.ID, sawApplied, steppedDown, roles.Err(), roles.Recorded())
	}
	nl, took := c.WaitNewLeader(t, term, removed)
	leader = c.Leader(t)
	t.Logf("after removing leader %d: member %d leads (first seen after %v)", old.ID, nl.ID, took.Round(time.Millisecond))
	st := leader.MustStatus(t)
	var ids []uint64
	for _, m := range st.Members {
		ids = append(ids, m.ID)
	}
	if slices.Contains(ids, old.ID) || slices.Contains(ids, victim.ID) || len(ids) != 4 {
		t.Fatalf("members after two removals: %+v", st.Members)
	}
	for _, m := range c.Running() {
		cl.MustPut(t, m, fmt.Sprintf("after-removing-leader-%d", m.ID), "v")
	}
	for _, m := range c.Running() {
		for _, w := range c.Running() {
			cl.WantValue(t, m, fmt.Sprintf("after-removing-leader-%d", w.ID), "", "v")
		}
		cl.WantValue(t, m, "before", "", "the members changed")
	}

	// A removed member's data dir is no one's: restarting it is refused
	// with a clear message rather than running a member outside the
	// cluster.
	victim.StartNoWait(t)
	if code := victim.WaitExit(t, waitTimeout); code == 0 {
		t.Fatalf("restart of removed member %d exited 0", victim.ID)
	}
	if !strings.Contains(lastLine(victim.Log()), "removed") {
		t.Fatalf("restart of removed member %d: %s", victim.ID, victim.LogTail(5))
	}
	t.Logf("restart of removed member %d refused: %s", victim.ID, lastLine(victim.Log()))
}

// checkRemovedExit checks how a removed member's process ended.
func checkRemovedExit(t *testing.T, m *Member, code int) {
	t.Helper()
	if code != 0 || !strings.Contains(m.LogTail(5), "removed from the cluster") {
		t.Fatalf("removed member %d: exit code %d, want 0 and a message; log:\n%s", m.ID, code, m.LogTail(10))
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}
