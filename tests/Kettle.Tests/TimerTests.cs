namespace Kettle.Tests;

public class TimerTests
{
    [Fact]
    public void CallLater_DifferentDelays_FireInDeadlineOrderAtTheirTime()
    {
        using var loop = Virtual.NewLoop();
        var log = new List<(string Name, double Time)>();
        loop.CallLater(3, () =>
        {
            log.Add(("c", loop.Time));
            loop.Stop();
        });
        loop.CallLater(1, () => log.Add(("a", loop.Time)));
        loop.CallLater(TimeSpan.FromSeconds(2), () => log.Add(("b", loop.Time)));

        loop.RunForever();

        Assert.Equal([("a", 1.0), ("b", 2.0), ("c", 3.0)], log);
    }

    [Fact]
    public void CallLater_SameDeadline_FireInSchedulingOrder()
    {
        using var loop = Virtual.NewLoop();
        var log = new List<int>();
        for (int i = 0; i < 10; i++)
        {
            int n = i;
            loop.CallLater(5, () => log.Add(n));
        }
        loop.CallLater(5, loop.Stop);

        loop.RunForever();

        Assert.Equal(Enumerable.Range(0, 10), log);
    }

    [Fact]
    public void CallAt_AbsoluteTime_FiresThenAndWhenReportsIt()
    {
        using var loop = Virtual.NewLoop();
        double firedAt = -1;
        var h = loop.CallAt(42.5, () =>
        {
            firedAt = loop.Time;
            loop.Stop();
        });

        Assert.Equal(42.5, h.When);
        loop.RunForever();

        Assert.Equal(42.5, firedAt);
    }

    [Fact]
    public void CallLater_WhileRunning_WhenIsLoopTimePlusDelay()
    {
        static async Coroutine<(double When, double FiredAt)> Main()
        {
            var loop = Aio.GetRunningLoop();
            await Aio.Sleep(10);
            double firedAt = -1;
            var h = loop.CallLater(2.5, () => firedAt = loop.Time);
            await Aio.Sleep(5);
            return (h.When, firedAt);
        }

        var (when, firedAt) = Virtual.Run(Main());

        Assert.Equal(12.5, when);
        Assert.Equal(12.5, firedAt);
    }

    [Fact]
    public void CallLater_ZeroOrNegativeDelay_RunsInNextIterationAfterQueuedCallbacks()
    {
        using var loop = Virtual.NewLoop();
        var log = new List<string>();
        loop.CallLater(0, () => log.Add("later0"));
        loop.CallLater(-5, () => log.Add("later-5"));
        loop.CallSoon(() => log.Add("soon"));
        loop.CallSoon(() => loop.CallSoon(loop.Stop));

        loop.RunForever();

        // As asyncio's _run_once: due timers are appended behind what is already ready.
        Assert.Equal(["soon", "later0", "later-5"], log);
        Assert.Equal(0.0, loop.Time);
    }

    [Fact]
    public void TimerHandleCancel_BeforeDeadline_DoesNotFire()
    {
        using var loop = Virtual.NewLoop();
        var log = new List<string>();
        var cancelled = loop.CallLater(1, () => log.Add("cancelled"));
        loop.CallLater(2, () =>
        {
            log.Add("kept");
            loop.Stop();
        });
        cancelled.Cancel();

        loop.RunForever();

        Assert.True(cancelled.Cancelled);
        Assert.Equal(["kept"], log);
    }

    [Fact]
    public void TimerHandleCancel_FromEarlierTimerAtSameDeadline_DoesNotFire()
    {
        using var loop = Virtual.NewLoop();
        var log = new List<string>();
        TimerHandle? second = null;
        loop.CallLater(1, () =>
        {
            log.Add("first");
            second!.Cancel();
        });
        second = loop.CallLater(1, () => log.Add("second"));
        loop.CallLater(1, loop.Stop);

        loop.RunForever();

        Assert.Equal(["first"], log);
    }

    [Fact]
    public void TimerHandleCancel_MostOfManyTimers_SurvivorsFireInOrder()
    {
        using var loop = Virtual.NewLoop();
        var handles = new List<TimerHandle>();
        var fired = new List<int>();
        for (int i = 0; i < 1000; i++)
        {
            int n = i;
            handles.Add(loop.CallLater(1000 - i, () => fired.Add(n)));
        }
        // Cancel all but every tenth: enough stale entries to make the heap rebuild itself.
        for (int i = 0; i < 1000; i++)
        {
            if (i % 10 != 0)
            {
                handles[i].Cancel();
            }
        }
        loop.CallLater(2000, loop.Stop);

        loop.RunForever();

        var expected = Enumerable.Range(0, 1000).Where(i => i % 10 == 0).Reverse().ToArray();
        Assert.Equal(expected, fired);
        Assert.Equal(2000.0, loop.Time);
    }

    [Fact]
    public void CallAt_ManyTimersUnderVirtualTime_FireInDeadlineThenSchedulingOrder()
    {
        const int N = 200_000;
        using var loop = Virtual.NewLoop();
        var rng = new Random(1234);
        var fired = new List<(double When, int Seq, double Now)>(N);
        for (int i = 0; i < N; i++)
        {
            int seq = i;
            // Few distinct deadlines, so many timers share one and the scheduling order matters.
            double when = rng.Next(0, 5000) / 10.0;
            loop.CallAt(when, () =>
            {
                fired.Add((when, seq, loop.Time));
                if (fired.Count == N)
                {
                    loop.Stop();
                }
            });
        }

        loop.RunForever();

        Assert.Equal(N, fired.Count);
        for (int i = 1; i < N; i++)
        {
            var (w0, s0, _) = fired[i - 1];
            var (w1, s1, _) = fired[i];
            Assert.True(w0 < w1 || (w0 == w1 && s0 < s1), $"Timer {s1} (at {w1}) fired after timer {s0} (at {w0}).");
        }
        Assert.All(fired, f => Assert.Equal(f.When, f.Now, 6));
    }

    [Fact]
    public void Timer_CallbackThrows_ReportedAndLaterTimersStillFire()
    {
        using var loop = Virtual.NewLoop();
        var reports = new ReportCollector();
        loop.SetExceptionHandler(reports.Handle);
        bool later = false;
        loop.CallLater(1, () => throw new TestException("timer failed"));
        loop.CallLater(2, () =>
        {
            later = true;
            loop.Stop();
        });

        loop.RunForever();

        Assert.True(later);
        Assert.IsType<TestException>(Assert.Single(reports.Items).Exception);
    }

    [Fact]
    public void CallAt_NaN_Throws()
    {
        using var loop = Virtual.NewLoop();

        Assert.Throws<ArgumentException>(() => loop.CallAt(double.NaN, () => { }));
    }
}
