//go:build unix

package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/raftlab/raftlab/core"
)

// fault is one kind of fault a run injects, once.
type fault struct {
	name  string
	sizes []int // cluster sizes it makes sense for
	// flags are given to every member; proxied puts a proxy in front of
	// each member's peer endpoint; failpoint runs the failpoints build
	// with RAFTLAB_FAILPOINT set to it, armed by SIGUSR1.
	flags     []string
	proxied   bool
	failpoint string
	// inject carries the fault out and returns when it is over (the
	// member restarted, resumed, healed...), saying what it hit.
	inject func(r *robustRun) (string, error)
}

// Durations of the faults, +- a quarter (seeded).
const (
	downFor    = time.Second      // a killed or crashed member stays down
	pauseFor   = 2 * time.Second  // SIGSTOP to SIGCONT
	networkFor = 2 * time.Second  // a network fault on a member's links
	snapshotBy = 20 * time.Second // a blackhole lasts until the member needs a snapshot, at most this
)

// Snapshot settings for the faults that need a member to fall behind the
// leader's log: a snapshot every 100 entries, 20 kept behind it.
var snapshotFlags = []string{"--snapshot-entries", "100", "--snapshot-catchup-entries", "20"}

var faults = []*fault{
	{name: "kill-follower", sizes: []int{3}, inject: func(r *robustRun) (string, error) {
		return r.killAndRestart(r.pick(false))
	}},
	{name: "kill-leader", sizes: []int{1, 3}, inject: func(r *robustRun) (string, error) {
		return r.killAndRestart(r.pick(true))
	}},
	{name: "pause", sizes: []int{1, 3}, inject: func(r *robustRun) (string, error) {
		m, role := r.pickRandom()
		m.Pause(r.t)
		time.Sleep(jitter(r.rng, pauseFor, pauseFor/4))
		m.Resume(r.t)
		return fmt.Sprintf("SIGSTOP %s %d", role, m.ID), nil
	}},
	{name: "blackhole", sizes: []int{3}, proxied: true, inject: func(r *robustRun) (string, error) {
		return r.network(linkPolicy{blackhole: true})
	}},
	{name: "delay", sizes: []int{3}, proxied: true, inject: func(r *robustRun) (string, error) {
		return r.network(linkPolicy{delayMin: 25 * time.Millisecond, delayMax: 125 * time.Millisecond})
	}},
	{name: "drop", sizes: []int{3}, proxied: true, inject: func(r *robustRun) (string, error) {
		return r.network(linkPolicy{dropRatio: 0.5})
	}},
	{name: "blackhole-snapshot", sizes: []int{3}, proxied: true, flags: snapshotFlags, inject: func(r *robustRun) (string, error) {
		return r.blackholeUntilSnapshot(false)
	}},
	{name: "remove-readd", sizes: []int{3}, inject: func(r *robustRun) (string, error) {
		return r.removeReadd()
	}},
	{name: "crash-before-save", sizes: []int{1, 3}, failpoint: core.FailpointBeforeSave, inject: func(r *robustRun) (string, error) {
		return r.crashAt(core.FailpointBeforeSave)
	}},
	{name: "crash-after-save", sizes: []int{1, 3}, failpoint: core.FailpointAfterSave, inject: func(r *robustRun) (string, error) {
		return r.crashAt(core.FailpointAfterSave)
	}},
	{name: "crash-after-send", sizes: []int{1, 3}, failpoint: core.FailpointAfterSend, inject: func(r *robustRun) (string, error) {
		return r.crashAt(core.FailpointAfterSend)
	}},
	{name: "crash-during-restore", sizes: []int{3}, proxied: true, flags: snapshotFlags, failpoint: core.FailpointDuringRestore, inject: func(r *robustRun) (string, error) {
		return r.blackholeUntilSnapshot(true)
	}},
}

// pick returns the leader, or a follower chosen by the run's randomness;
// a cluster of one has only its leader.
func (r *robustRun) pick(leader bool) *Member {
	lead, err := r.leader()
	if err != nil {
		r.t.Fatal(err)
	}
	if leader || len(r.members()) == 1 {
		r.leaderHit = true
		return lead
	}
	var fs []*Member
	for _, m := range r.members() {
		if m != lead && m.Running() && !m.Paused() {
			fs = append(fs, m)
		}
	}
	return fs[r.rng.IntN(len(fs))]
}

// pickRandom returns the leader or a follower, half the time each.
func (r *robustRun) pickRandom() (*Member, string) {
	if r.rng.IntN(2) == 0 || len(r.members()) == 1 {
		return r.pick(true), "leader"
	}
	return r.pick(false), "follower"
}

func roleName(r *robustRun, m *Member) string {
	if r.leaderHit {
		return "leader"
	}
	return "follower"
}

// killAndRestart kills m with SIGKILL, keeps it down a while, and starts it
// again from its data.
func (r *robustRun) killAndRestart(m *Member) (string, error) {
	what := fmt.Sprintf("kill -9 %s %d", roleName(r, m), m.ID)
	m.Kill(r.t)
	time.Sleep(jitter(r.rng, downFor, downFor/4))
	r.start(m)
	return what, nil
}

// network applies p to every peer link of one member, the leader or a
// follower, for a while, then heals.
func (r *robustRun) network(p linkPolicy) (string, error) {
	m, role := r.pickRandom()
	var ids []uint64
	for _, x := range r.members() {
		ids = append(ids, x.ID)
	}
	r.net.isolate(m.ID, ids, p)
	time.Sleep(jitter(r.rng, networkFor, networkFor/4))
	r.net.heal()
	return fmt.Sprintf("%s on the links of %s %d", p, role, m.ID), nil
}

// blackholeUntilSnapshot cuts a follower off until the leader compacted
// its log past the follower's, so that it can only catch up from a
// snapshot; with crash, the follower is armed to crash in the middle of
// restoring it, and is restarted. It returns once the follower applied a
// snapshot.
func (r *robustRun) blackholeUntilSnapshot(crash bool) (string, error) {
	m := r.pick(false)
	var ids []uint64
	for _, x := range r.members() {
		ids = append(ids, x.ID)
	}
	r.net.isolate(m.ID, ids, linkPolicy{blackhole: true})
	what := fmt.Sprintf("blackhole of follower %d until it needs a snapshot", m.ID)
	var snapBefore uint64
	var held time.Time // since when the condition below has held
	deadline := time.Now().Add(snapshotBy)
	for {
		lead, err := r.leader()
		if err != nil {
			r.net.heal()
			return what, err
		}
		lst, err1 := lead.Status()
		fst, err2 := m.Status()
		// Its log's end, not its applied index, and over reads 200 ms
		// apart: a follower may hold entries it has not applied, and a
		// member's status may be a tick old, or more on a starved machine.
		// CI once saw a follower catch up by appends after "applied 114, the
		// leader's log from 182": no snapshot came, and the crash point was
		// never reached.
		if err1 == nil && err2 == nil && lead.ID != m.ID && lst.Status.FirstIndex > fst.Status.LastIndex+1 {
			if held.IsZero() {
				held = time.Now()
			}
			if time.Since(held) >= 200*time.Millisecond {
				snapBefore = fst.Status.SnapshotIndex
				what += fmt.Sprintf(" (its log to %d, applied %d; the leader's log from %d)", fst.Status.LastIndex, fst.Applied, lst.Status.FirstIndex)
				break
			}
		} else {
			held = time.Time{}
		}
		if time.Now().After(deadline) {
			r.net.heal()
			return what, fmt.Errorf("the leader's log did not move past member %d's within %v", m.ID, snapshotBy)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if crash {
		m.signal(r.t, syscall.SIGUSR1)
		what = "crash during the restore of a snapshot: " + what
	}
	r.net.heal()
	if crash {
		if err := r.waitCrash(m, core.FailpointDuringRestore); err != nil {
			return what, err
		}
		time.Sleep(jitter(r.rng, downFor/2, downFor/8))
		r.start(m)
	}
	deadline = time.Now().Add(recoveryBound)
	for {
		st, err := m.Status()
		if err == nil && st.Status.SnapshotIndex > snapBefore {
			return what, nil
		}
		if time.Now().After(deadline) {
			return what, fmt.Errorf("member %d applied no snapshot within %v (status %+v, %v)", m.ID, recoveryBound, st.Status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitCrash waits until m's failpoint killed it, and checks that it was
// the failpoint.
func (r *robustRun) waitCrash(m *Member, point string) error {
	m.mu.Lock()
	exited := m.exited
	m.mu.Unlock()
	select {
	case <-exited:
	case <-time.After(recoveryBound):
		return fmt.Errorf("member %d never reached crash point %s", m.ID, point)
	}
	if want := fmt.Sprintf("failpoint %s hit", point); !strings.Contains(m.LogTail(20), want) {
		return fmt.Errorf("member %d exited (%s), but not at %s:\n%s", m.ID, m.ExitState(), point, m.LogTail(10))
	}
	return nil
}

// crashAt arms the crash point on a member (the leader or a follower) and
// restarts it after it crashed there.
func (r *robustRun) crashAt(point string) (string, error) {
	m, role := r.pickRandom()
	what := fmt.Sprintf("crash of %s %d at %s", role, m.ID, point)
	m.signal(r.t, syscall.SIGUSR1)
	if err := r.waitCrash(m, point); err != nil {
		return what, err
	}
	time.Sleep(jitter(r.rng, downFor/2, downFor/8))
	r.start(m)
	return what, nil
}

// removeReadd removes a member (the leader or a follower) through the
// admin API, waits for it to exit, wipes its data dir, and has it join
// again under a new id at the same address: raft forbids reusing an id
// whose state is gone (the cluster would count on a vote and a log the
// member no longer has), so a member that lost its data is a new member.
func (r *robustRun) removeReadd() (string, error) {
	old, role := r.pickRandom()
	lead, err := r.leader()
	if err != nil {
		return "", err
	}
	via := lead
	what := fmt.Sprintf("remove %s %d, wipe it, re-add it", role, old.ID)
	var resp Response
	for deadline := time.Now().Add(recoveryBound); ; {
		resp = via.AdminDo(r.t, http.MethodDelete, fmt.Sprintf("/cluster/members/%d", old.ID), nil)
		if resp.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			return what, fmt.Errorf("remove %d: %s", old.ID, resp)
		}
		time.Sleep(50 * time.Millisecond)
		if l, err := r.leader(); err == nil {
			via = l
		}
	}
	if code := old.WaitExit(r.t, recoveryBound); code != 0 {
		return what, fmt.Errorf("removed member %d exited with %d:\n%s", old.ID, code, old.LogTail(10))
	}
	if err := os.RemoveAll(old.DataDir); err != nil {
		return what, err
	}
	var maxID uint64
	for _, m := range r.c.Members() {
		maxID = max(maxID, m.ID)
	}
	m := r.c.newMember(maxID + 1)
	m.Addr, m.URL, m.DataDir = old.Addr, old.URL, old.DataDir
	lead, err = r.leader()
	if err != nil {
		return what, err
	}
	m.Mode = []string{"--join", lead.URL}
	what += fmt.Sprintf(" as member %d", m.ID)
	var joinErr error
	for deadline := time.Now().Add(recoveryBound); ; {
		// A join can fail while the removal settles (a leader change):
		// start again.
		m.StartNoWait(r.t)
		joinErr = waitServingOrExit(m)
		if joinErr == nil {
			break
		}
		if time.Now().After(deadline) {
			return what, joinErr
		}
		time.Sleep(200 * time.Millisecond)
		_ = os.RemoveAll(m.DataDir)
	}
	r.watch(m)
	r.replaceSlot(old, m)
	// It is in once it lists itself and has caught up with the leader's
	// commit as of now.
	commit := uint64(0)
	if l, err := r.leader(); err == nil {
		if st, err := l.Status(); err == nil {
			commit = st.Commit
		}
	}
	for deadline := time.Now().Add(recoveryBound); ; {
		st, err := m.Status()
		if err == nil && roleOf(st, m.ID) != "" && st.Applied >= commit {
			return what, nil
		}
		if time.Now().After(deadline) {
			return what, fmt.Errorf("member %d did not catch up within %v: %+v %v", m.ID, recoveryBound, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitServingOrExit waits until m serves HTTP, or returns why it exited.
func waitServingOrExit(m *Member) error {
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		if !m.Running() {
			return fmt.Errorf("member %d exited (%s): %s", m.ID, m.ExitState(), lastLine(m.Log()))
		}
		if resp, err := m.http.Get(m.URL + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(pollEvery)
	}
	return errors.New("not serving after " + waitTimeout.String())
}
