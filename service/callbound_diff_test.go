package service

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// contextPair is a callBound and the context.WithTimeout it stands for, made
// from the same parent, with the children and AfterFuncs made from each.
type contextPair struct {
	bound, timeout             context.Context
	stopBound, stopTimeout     context.CancelFunc
	children                   [][2]context.Context
	childCancels               []context.CancelFunc
	boundRan, timeoutRan       atomic.Int32
	afterStopped               int // AfterFuncs stopped before they ran (the same on both sides)
	boundAfters, timeoutAfters []func() bool
}

var errParentCause = errors.New("the parent's cause")

// TestCallBoundDiffersInNothingFromWithTimeout drives a callBound and a
// context.WithTimeout through the same random sequences of operations and
// compares everything either reports. An operation that would arm the bound
// (Done, Err) is one of the operations, so sequences leave it unarmed as long
// as they like: past its deadline, after its parent's end, after its stop.
func TestCallBoundDiffersInNothingFromWithTimeout(t *testing.T) {
	// Deadlines long enough that a loaded CI machine (the race detector, other
	// suites at once) still compares most sequences.
	const short, past = 250 * time.Millisecond, 500 * time.Millisecond
	ops := []string{"done", "err", "cause", "stop", "cancelParent", "sleep", "child", "afterFunc", "stopAfterFunc", "value", "deadline", "childErr", "withoutCancel"}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var wg sync.WaitGroup
	var slow atomic.Int32
	for i := range 400 {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		parentKind := rng.IntN(3) // 0: never ends, 1: cancelled with a cause, 2: an earlier deadline
		d := time.Hour
		if rng.IntN(2) == 0 {
			d = short
		}
		var seq []string
		slept, armed := false, false
		for range 1 + rng.IntN(10) {
			op := ops[rng.IntN(len(ops))]
			switch op {
			case "sleep":
				if slept {
					continue
				}
				slept = true
			case "done", "err", "cause", "stop", "child", "afterFunc", "stopAfterFunc":
				armed = true
			case "cancelParent":
				// The one difference left: a bound nobody asked cannot know that
				// its deadline passed before its parent ended, and reports the
				// parent's end (Canceled) where WithTimeout reports
				// DeadlineExceeded. Knowing would take the timer it saves.
				if slept && !armed && d == short {
					continue
				}
			}
			seq = append(seq, op)
		}
		wg.Go(func() {
			name := fmt.Sprintf("parent %d, bound %v, %s", parentKind, d, strings.Join(seq, " "))
			switch err := runPair(parentKind, d, seq, short, past); {
			case errors.Is(err, errTooSlow):
				slow.Add(1)
			case err != nil:
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	wg.Wait()
	if n := slow.Load(); n > 300 {
		t.Fatalf("%d of 400 sequences too slow to compare", n)
	}
}

// armedAndOpen says whether ctx, a callBound, has started its timer and not
// ended yet.
func armedAndOpen(ctx context.Context) bool {
	a := ctx.(*callBound).armed.Load()
	return a != nil && a.ctx.Err() == nil
}

// errTooSlow is a sequence that reached a deadline before it slept past it, on
// a busy machine: what either context reports there depends on the timing.
var errTooSlow = errors.New("too slow to compare")

func runPair(parentKind int, d time.Duration, seq []string, short, past time.Duration) error {
	parent := context.WithValue(context.Background(), boundKey{}, "v")
	cancelParent := func(error) {}
	switch parentKind {
	case 1:
		var cancel context.CancelCauseFunc
		parent, cancel = context.WithCancelCause(parent)
		cancelParent = cancel
		defer cancel(nil)
	case 2:
		var cancel context.CancelFunc
		parent, cancel = context.WithTimeout(parent, short/2)
		defer cancel()
	}
	p := &contextPair{}
	created, slept := time.Now(), false
	// tooLate: a short deadline may have passed during what ran since created,
	// for one of the two contexts and not the other.
	tooLate := func() bool {
		return !slept && (d < time.Hour || parentKind == 2) && time.Since(created) >= short/2
	}
	p.bound, p.stopBound = withCallBound(parent, d)
	p.timeout, p.stopTimeout = context.WithTimeout(parent, d)
	made := time.Now()
	defer p.stopTimeout()
	defer p.stopBound()

	same := func(what string, b, w any) error {
		if b != w {
			return fmt.Errorf("%s: callBound %v, WithTimeout %v", what, b, w)
		}
		return nil
	}
	state := func(what string) error {
		if err := same(what+" Err", p.bound.Err(), p.timeout.Err()); err != nil {
			return err
		}
		if err := same(what+" Cause", context.Cause(p.bound), context.Cause(p.timeout)); err != nil {
			return err
		}
		for i, c := range p.children {
			if err := same(fmt.Sprintf("%s child %d Err", what, i), c[0].Err(), c[1].Err()); err != nil {
				return err
			}
			if err := same(fmt.Sprintf("%s child %d Cause", what, i), context.Cause(c[0]), context.Cause(c[1])); err != nil {
				return err
			}
		}
		return nil
	}
	for step, op := range seq {
		var err error
		switch op {
		case "done":
			_, _ = p.bound.Done(), p.timeout.Done()
		case "err":
			err = same("Err", p.bound.Err(), p.timeout.Err())
		case "cause":
			err = same("Cause", context.Cause(p.bound), context.Cause(p.timeout))
		case "stop":
			p.stopBound()
			p.stopTimeout()
		case "cancelParent":
			cancelParent(errParentCause)
		case "sleep":
			time.Sleep(past)
			slept = true
			// Past the short deadlines; wait for late timers on a busy machine (an
			// armed bound's runs apart from WithTimeout's; asking an unarmed one
			// would arm it).
			for start := time.Now(); (d < time.Hour && (p.timeout.Err() == nil || armedAndOpen(p.bound)) || parentKind == 2 && parent.Err() == nil) && time.Since(start) < 5*time.Second; {
				time.Sleep(time.Millisecond)
			}
		case "child":
			b, cb := context.WithCancel(p.bound)
			w, cw := context.WithCancel(p.timeout)
			p.childCancels = append(p.childCancels, cb, cw)
			p.children = append(p.children, [2]context.Context{b, w},
				[2]context.Context{context.WithValue(p.bound, boundKey{}, "child"), context.WithValue(p.timeout, boundKey{}, "child")})
		case "afterFunc":
			p.boundAfters = append(p.boundAfters, context.AfterFunc(p.bound, func() { p.boundRan.Add(1) }))
			p.timeoutAfters = append(p.timeoutAfters, context.AfterFunc(p.timeout, func() { p.timeoutRan.Add(1) }))
		case "stopAfterFunc":
			// Err first: once it reports the end, every AfterFunc has been started.
			_, _ = p.bound.Err(), p.timeout.Err()
			for i := range p.boundAfters {
				stopped := p.boundAfters[i]()
				if err = same(fmt.Sprintf("AfterFunc %d stop", i), stopped, p.timeoutAfters[i]()); err != nil {
					break
				}
				if stopped {
					p.afterStopped++
				}
			}
		case "value":
			err = same("Value", p.bound.Value(boundKey{}), p.timeout.Value(boundKey{}))
		case "deadline":
			bd, bok := p.bound.Deadline()
			wd, wok := p.timeout.Deadline()
			// Both fixed their deadline while the two were made, or took the parent's.
			within := func(t time.Time) bool { return !t.Before(created.Add(d)) && !t.After(made.Add(d)) }
			if bok != wok || !bd.Equal(wd) && !(within(bd) && within(wd)) {
				err = fmt.Errorf("Deadline: callBound %v %v, WithTimeout %v %v", bd, bok, wd, wok)
			}
		case "childErr":
			for i, c := range p.children {
				if err = same(fmt.Sprintf("child %d Err", i), c[0].Err(), c[1].Err()); err != nil {
					break
				}
			}
		case "withoutCancel":
			b, w := context.WithoutCancel(p.bound), context.WithoutCancel(p.timeout)
			if b.Done() != nil || b.Err() != nil || context.Cause(b) != nil || b.Value(boundKey{}) != w.Value(boundKey{}) {
				err = fmt.Errorf("WithoutCancel: Done %v Err %v Cause %v Value %v", b.Done(), b.Err(), context.Cause(b), b.Value(boundKey{}))
			}
		}
		if tooLate() {
			return errTooSlow
		}
		if err != nil {
			return fmt.Errorf("step %d (%s): %w", step, op, err)
		}
	}
	err := state("at the end")
	p.stopBound()
	p.stopTimeout()
	if tooLate() {
		return errTooSlow
	}
	if err != nil {
		return err
	}
	if err := state("after stop"); err != nil {
		return err
	}
	for _, c := range p.childCancels {
		c()
	}
	// Every AfterFunc not stopped runs, in a goroutine of its own, once its
	// context has ended: wait for all of them on both sides.
	want := int32(len(p.boundAfters) - p.afterStopped)
	for start := time.Now(); (p.boundRan.Load() < want || p.timeoutRan.Load() < want) && time.Since(start) < 5*time.Second; {
		time.Sleep(time.Millisecond)
	}
	if err := same("AfterFuncs run", p.boundRan.Load(), p.timeoutRan.Load()); err != nil {
		return err
	}
	return same("AfterFuncs run, against those not stopped", p.boundRan.Load(), want)
}

// Many goroutines asking and ending one bound at once (run under -race): every
// one of them sees the same end, and the bound leaves no goroutine behind.
func TestCallBoundUnderConcurrentUse(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, d := range []time.Duration{time.Hour, time.Millisecond} {
		for range 50 {
			parent, cancelParent := context.WithCancelCause(context.WithValue(context.Background(), boundKey{}, "v"))
			ctx, stop := withCallBound(parent, d)
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					switch i % 6 {
					case 0:
						stop()
					case 1:
						<-ctx.Done()
					case 2:
						_ = ctx.Err()
					case 3:
						_ = context.Cause(ctx)
					case 4:
						child, cancel := context.WithCancel(ctx)
						defer cancel()
						stop()
						<-child.Done()
					case 5:
						if ctx.Value(boundKey{}) != "v" {
							t.Error("the parent's value is lost")
						}
						cancelParent(errParentCause)
					}
				})
			}
			wg.Wait()
			err, cause := ctx.Err(), context.Cause(ctx)
			if err == nil || cause == nil {
				t.Fatalf("after stop: Err %v, Cause %v", err, cause)
			}
			for range 4 {
				if ctx.Err() != err || context.Cause(ctx) != cause {
					t.Fatal("the bound changed its end after it ended")
				}
			}
			cancelParent(nil)
		}
	}
	for start := time.Now(); runtime.NumGoroutine() > before && time.Since(start) < 5*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines before, %d after", before, n)
	}
}
