//go:build js && wasm

package main

import (
	"fmt"

	"github.com/hack-pad/safejs"

	"github.com/raftlab/raftlab/core"
)

// main registers the global raftlab object and blocks. Every method takes
// numbers and JSON strings and returns a JSON string {"ok": ...} or
// {"error": "..."}; replay, the only long one, returns a Promise of that
// string. The page's JS wrapper (ui/js/source/wasm.js) checks them.
func main() {
	a := newAPI()
	obj, err := safejs.Global().Get("Object")
	must(err)
	raftlab, err := obj.New()
	must(err)
	set := func(name, usage string, nargs int, f func(args []safejs.Value) (any, error)) {
		fn, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
			return call(func() (any, error) {
				if len(args) != nargs {
					return nil, fmt.Errorf("raftlab.%s: want %d arguments: %s", name, nargs, usage)
				}
				return f(args)
			})
		})
		must(err)
		must(raftlab.Set(name, fn.Value()))
	}
	set("create", "create(configJSON)", 1, func(args []safejs.Value) (any, error) {
		s, err := str(args[0], "configJSON")
		if err != nil {
			return nil, err
		}
		return a.create(s)
	})
	set("advance", "advance(handle, untilMs, maxEvents)", 3, func(args []safejs.Value) (any, error) {
		h, err := integer(args[0], "handle")
		if err != nil {
			return nil, err
		}
		until, err := integer(args[1], "untilMs")
		if err != nil {
			return nil, err
		}
		maxEvents, err := integer(args[2], "maxEvents")
		if err != nil {
			return nil, err
		}
		return a.advance(h, int64(until), maxEvents)
	})
	set("step", "step(handle)", 1, func(args []safejs.Value) (any, error) {
		h, err := integer(args[0], "handle")
		if err != nil {
			return nil, err
		}
		return a.step(h)
	})
	set("act", "act(handle, actionJSON)", 2, func(args []safejs.Value) (any, error) {
		h, err := integer(args[0], "handle")
		if err != nil {
			return nil, err
		}
		s, err := str(args[1], "actionJSON")
		if err != nil {
			return nil, err
		}
		return a.act(h, s)
	})
	set("status", "status(handle)", 1, func(args []safejs.Value) (any, error) {
		h, err := integer(args[0], "handle")
		if err != nil {
			return nil, err
		}
		return a.status(h)
	})
	set("storage", "storage(handle, member)", 2, func(args []safejs.Value) (any, error) {
		h, err := integer(args[0], "handle")
		if err != nil {
			return nil, err
		}
		m, err := integer(args[1], "member")
		if err != nil {
			return nil, err
		}
		return a.storageDump(h, uint64(m))
	})
	set("destroy", "destroy(handle)", 1, func(args []safejs.Value) (any, error) {
		h, err := integer(args[0], "handle")
		if err != nil {
			return nil, err
		}
		return a.destroy(h)
	})
	set("handles", "handles()", 0, func([]safejs.Value) (any, error) { return a.handles(), nil })

	// replay(argsJSON) -> Promise<string>: a replay may run for a while;
	// the Promise lets the page show progress instead of freezing.
	replay, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		promise, _ := safejs.Global().Get("Promise")
		p, _ := promise.New(mustFunc(func(_ safejs.Value, pargs []safejs.Value) any {
			resolve := pargs[0]
			go func() {
				out := call(func() (any, error) {
					if len(args) != 1 {
						return nil, fmt.Errorf("raftlab.replay: want 1 argument: replay(argsJSON)")
					}
					s, err := str(args[0], "argsJSON")
					if err != nil {
						return nil, err
					}
					return a.replay(s)
				})
				_, _ = resolve.Invoke(out)
			}()
			return nil
		}))
		return p
	})
	must(err)
	must(raftlab.Set("replay", replay.Value()))
	must(raftlab.Set("schemaVersion", core.SchemaVersion))
	must(safejs.Global().Set("raftlab", raftlab))
	if ready, err := safejs.Global().Get("raftlabReady"); err == nil && ready.Type() == safejs.TypeFunction {
		_, _ = ready.Invoke()
	}
	select {}
}

func mustFunc(f func(safejs.Value, []safejs.Value) any) safejs.Value {
	fn, err := safejs.FuncOf(f)
	must(err)
	return fn.Value()
}

func str(v safejs.Value, name string) (string, error) {
	if v.Type() != safejs.TypeString {
		return "", fmt.Errorf("%s: want a string, got %s", name, v.Type())
	}
	return v.String()
}

func integer(v safejs.Value, name string) (int, error) {
	if v.Type() != safejs.TypeNumber {
		return 0, fmt.Errorf("%s: want a number, got %s", name, v.Type())
	}
	f, err := v.Float()
	if err != nil {
		return 0, err
	}
	if f != float64(int64(f)) || f < 0 || f > 1<<52 {
		return 0, fmt.Errorf("%s: want a whole number in [0, 2^52], got %v", name, f)
	}
	return int(f), nil
}

func must(err error) {
	if err != nil {
		panic("raftlab: setting up the JS API: " + err.Error())
	}
}
