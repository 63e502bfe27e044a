package sim

import "fmt"

// Replay rebuilds a run from its seed and configuration (inside cfg) and
// its action log, up to virtual time until: the same run, event for event.
// It is how the UI forks from the past (replay a truncated log, then act)
// and how a shared URL reproduces a run.
func Replay(cfg Config, actions []Action, until int64) (*Cluster, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	for i, a := range actions {
		if a.At > until {
			break
		}
		if err := c.runTo(a.Step, a.At); err != nil {
			return c, err
		}
		if err := c.Do(a); err != nil && c.halted != nil {
			return c, err
		} else if err != nil && isBadAction(err) {
			return c, fmt.Errorf("sim: replay: action %d (%s at %d ms) no longer applies: %w", i, a.Kind, a.At, err)
		}
	}
	return c, c.RunUntil(until)
}

// runTo processes items until step items were processed, then moves the
// clock to at, where the recorded action happened.
func (c *Cluster) runTo(step uint64, at int64) error {
	for c.steps < step && c.halted == nil {
		if !c.Step() {
			break
		}
	}
	if c.halted != nil {
		return c.halted
	}
	if c.steps != step {
		return fmt.Errorf("sim: replay: ran out of work at step %d, action was at step %d", c.steps, step)
	}
	if at > c.now {
		c.now = at
	}
	return nil
}
