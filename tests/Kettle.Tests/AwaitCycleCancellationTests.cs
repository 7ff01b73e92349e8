namespace Kettle.Tests;

/// <summary>
/// Cancelling tasks that await each other in a cycle. asyncio goes round the cycle (each task cancels what it
/// awaits) until RecursionError; Kettle goes round once: the last task the cancel reaches has its wait cancelled
/// directly, and the cancellation then travels back round as each awaited task ends cancelled.
/// </summary>
public class AwaitCycleCancellationTests
{
    private sealed class Log
    {
        public readonly List<string> Lines = new();

        public void Add(string line) => Lines.Add(line);
    }

    /// <summary>Waits (after one yield, by which time every task of the test exists) for the task <paramref name="other"/> gives.</summary>
    private static async Coroutine AwaitOther(string name, Func<AioTask> other, Log log)
    {
        await Aio.Yield();
        try
        {
            await other();
            log.Add($"{name}:done");
        }
        catch (CancelledException ex)
        {
            log.Add($"{name}:cancelled:{ex.CancelMessage}@{Aio.GetRunningLoop().Time}");
            throw;
        }
    }

    [Fact]
    public void Cancel_TwoTasksAwaitingEachOther_BothEndCancelledOnceEach()
    {
        static async Coroutine<(Log Log, bool Accepted, string? Seen, AioTask A, AioTask B)> Main()
        {
            var log = new Log();
            AioTask a = null!, b = null!;
            a = Aio.CreateTask(AwaitOther("A", () => b, log), name: "A");
            b = Aio.CreateTask(AwaitOther("B", () => a, log), name: "B");
            await Aio.Sleep(1);
            bool accepted = a.Cancel("stop");
            string? seen = null;
            try
            {
                await a;
            }
            catch (CancelledException ex)
            {
                seen = ex.CancelMessage;
            }
            return (log, accepted, seen, a, b);
        }

        var (log, accepted, seen, a, b) = Virtual.Run(Main());

        Assert.True(accepted);
        // B closed the cycle (its wait was on A, which was passing the cancel on): it gets it first, then A sees B cancelled.
        Assert.Equal(["B:cancelled:stop@1", "A:cancelled:stop@1"], log.Lines);
        Assert.Equal("stop", seen);
        Assert.True(a.IsCancelled);
        Assert.True(b.IsCancelled);
        Assert.Equal(1, a.Cancelling());
        Assert.Equal(1, b.Cancelling());
    }

    [Fact]
    public void Cancel_ThreeTaskCycle_CancelGoesRoundOnceAndComesBackInOrder()
    {
        static async Coroutine<(Log Log, AioTask[] Tasks)> Main()
        {
            var log = new Log();
            AioTask a = null!, b = null!, c = null!;
            a = Aio.CreateTask(AwaitOther("A", () => b, log), name: "A");
            b = Aio.CreateTask(AwaitOther("B", () => c, log), name: "B");
            c = Aio.CreateTask(AwaitOther("C", () => a, log), name: "C");
            await Aio.Sleep(1);
            Assert.True(b.Cancel("round"));
            await Aio.Wait([a, b, c]);
            return (log, [a, b, c]);
        }

        var (log, tasks) = Virtual.Run(Main());

        // B -> C -> A -> back at B: A is the last one reached, so A's wait on B is cancelled first; then C (awaiting A), then B.
        Assert.Equal(["A:cancelled:round@1", "C:cancelled:round@1", "B:cancelled:round@1"], log.Lines);
        Assert.All(tasks, t => Assert.True(t.IsCancelled));
        Assert.All(tasks, t => Assert.Equal(1, t.Cancelling()));
    }

    [Fact]
    public void Cancel_LongCycle_NoStackOverflowAndEveryTaskCountedOnce()
    {
        const int Count = 200;

        static async Coroutine<(Log Log, AioTask[] Tasks)> Main()
        {
            var log = new Log();
            var tasks = new AioTask[Count];
            for (int i = 0; i < Count; i++)
            {
                int next = (i + 1) % Count;
                tasks[i] = Aio.CreateTask(AwaitOther($"T{i}", () => tasks[next], log));
            }
            await Aio.Sleep(1);
            Assert.True(tasks[0].Cancel());
            await Aio.Wait(tasks);
            return (log, tasks);
        }

        var (log, tasks) = Virtual.Run(Main());

        Assert.All(tasks, t => Assert.True(t.IsCancelled));
        Assert.All(tasks, t => Assert.Equal(1, t.Cancelling()));
        // The last task reached (the one awaiting T0) gets it first; the rest follow back round, T0 last.
        Assert.Equal(Count, log.Lines.Count);
        Assert.Equal($"T{Count - 1}:cancelled:@1", log.Lines[0]);
        Assert.Equal($"T{Count - 2}:cancelled:@1", log.Lines[1]);
        Assert.Equal("T0:cancelled:@1", log.Lines[^1]);
    }

    /// <summary>A awaits a gather of B, B awaits A; after 1 s, <paramref name="cancelB"/> picks which one is cancelled
    /// (with <paramref name="message"/>); then both are awaited and one more loop turn lets done callbacks run.</summary>
    private static async Coroutine<(Log Log, AioTask A, AioTask B, AioTask Gather)> CycleThroughGather(bool cancelB, string message)
    {
        var log = new Log();
        AioTask a = null!, b = null!, g = null!;
        async Coroutine GatherB()
        {
            await Aio.Yield();
            g = Aio.Gather(b);
            try
            {
                await g;
            }
            catch (CancelledException ex)
            {
                log.Add($"A:cancelled:{ex.CancelMessage}");
                throw;
            }
        }
        a = Aio.CreateTask(GatherB(), name: "A");
        b = Aio.CreateTask(AwaitOther("B", () => a, log), name: "B");
        await Aio.Sleep(1);
        Assert.True((cancelB ? b : a).Cancel(message));
        await Aio.Wait([a, b]);
        await Aio.Yield(); // the gather's done callbacks run
        return (log, a, b, g);
    }

    [Fact]
    public void Cancel_CycleThroughGather_WaiterOfTheGatheringTaskClosesIt()
    {
        var (log, a, b, g) = Virtual.Run(CycleThroughGather(cancelB: false, "via gather"));

        // A -> gather -> B -> back at A: B's wait on A is cancelled; B ends cancelled, which fails the gather, which A awaits.
        Assert.Equal(["B:cancelled:via gather@1", "A:cancelled:via gather"], log.Lines);
        Assert.True(a.IsCancelled);
        Assert.True(b.IsCancelled);
        Assert.Equal(1, a.Cancelling());
        Assert.Equal(1, b.Cancelling());
        Assert.IsType<CancelledException>(g.error);
    }

    [Fact]
    public void Cancel_CycleClosingInsideGather_GatherLeftBehindIsNotReportedAsUnretrieved()
    {
        // B -> A -> gather -> back at B: A is the last task reached, so A's wait on the gather is cancelled.
        var (log, a, b, g) = Virtual.Run(CycleThroughGather(cancelB: true, "from B"));

        Assert.Equal(["A:cancelled:from B", "B:cancelled:from B@1"], log.Lines);
        Assert.True(a.IsCancelled);
        Assert.True(b.IsCancelled);
        Assert.Equal(1, a.Cancelling());
        Assert.Equal(1, b.Cancelling());
        // The gather ended with B's cancellation after A stopped waiting for it: not a "never retrieved" exception.
        Assert.IsType<CancelledException>(g.error);
        Assert.NotEqual(0, g.flags & AioTask.FlagRetrieved);
        Assert.Null(g.extras?.Report);
    }

    [Fact]
    public void Cancel_GatherOfCycleAndSleeper_SleeperCancelledToo()
    {
        static async Coroutine<(Log Log, AioTask A, AioTask B, AioTask C)> Main()
        {
            var log = new Log();
            AioTask a = null!, b = null!, c = null!;
            async Coroutine GatherBC()
            {
                await Aio.Yield();
                try
                {
                    await Aio.Gather(b, c);
                }
                catch (CancelledException)
                {
                    log.Add("A:cancelled");
                    throw;
                }
            }
            a = Aio.CreateTask(GatherBC(), name: "A");
            b = Aio.CreateTask(AwaitOther("B", () => a, log), name: "B");
            c = Aio.CreateTask(AwaitOther("C", () => Aio.CreateTask(Co.Sleep(3600)), log), name: "C");
            await Aio.Sleep(1);
            Assert.True(a.Cancel());
            await Aio.Wait([a, b, c]);
            return (log, a, b, c);
        }

        var (log, a, b, c) = Virtual.Run(Main());

        // B closed the cycle and ends first, which fails the gather at once (as a cancelled child does); C is
        // cancelled through the sleeper it awaits, so it sees that one step later.
        Assert.Equal(["B:cancelled:@1", "A:cancelled", "C:cancelled:@1"], log.Lines);
        Assert.All([a, b, c], t => Assert.True(t.IsCancelled));
        Assert.All([a, b, c], t => Assert.Equal(1, t.Cancelling()));
    }

    [Fact]
    public void Cancel_RequestedBeforeAwaitIntoCycle_DeliveredWhenTheTaskSuspends()
    {
        static async Coroutine<(Log Log, AioTask A, AioTask B)> Main()
        {
            var log = new Log();
            AioTask a = null!, b = null!;
            async Coroutine CancelSelfThenAwaitB()
            {
                await Aio.Yield();
                Aio.CurrentTask!.Cancel("self"); // delivered at the next await, which goes into the cycle
                try
                {
                    await b;
                }
                catch (CancelledException ex)
                {
                    log.Add($"A:cancelled:{ex.CancelMessage}");
                    throw;
                }
            }
            b = Aio.CreateTask(AwaitOther("B", () => a, log), name: "B");
            a = Aio.CreateTask(CancelSelfThenAwaitB(), name: "A");
            await Aio.Wait([a, b]);
            return (log, a, b);
        }

        var (log, a, b) = Virtual.Run(Main());

        Assert.Equal(["B:cancelled:self@0", "A:cancelled:self"], log.Lines);
        Assert.True(a.IsCancelled);
        Assert.True(b.IsCancelled);
        Assert.Equal(1, a.Cancelling());
        Assert.Equal(1, b.Cancelling());
    }

    [Fact]
    public void Timeout_InsideCycle_TaskGetsTimeoutExceptionAndItsCountIsBackToZero()
    {
        static async Coroutine<(Log Log, AioTask A, AioTask B, int ACancellingAfter)> Main()
        {
            var log = new Log();
            AioTask a = null!, b = null!;
            int aCancellingAfter = -1;
            async Coroutine AwaitBWithTimeout()
            {
                await Aio.Yield();
                try
                {
                    await Aio.Timeout(5, _ => Wait(b));
                }
                catch (TimeoutException)
                {
                    aCancellingAfter = Aio.CurrentTask!.Cancelling();
                    log.Add($"A:timeout@{Aio.GetRunningLoop().Time}");
                }
            }
            static async Coroutine<bool> Wait(AioTask t)
            {
                await t;
                return true;
            }
            a = Aio.CreateTask(AwaitBWithTimeout(), name: "A");
            b = Aio.CreateTask(AwaitOther("B", () => a, log), name: "B");
            await Aio.Wait([a, b]);
            return (log, a, b, aCancellingAfter);
        }

        var (log, a, b, aCancellingAfter) = Virtual.Run(Main());

        // The timeout's cancel of A goes round once: had it been counted twice, the scope would not turn it into a timeout.
        Assert.Equal(["B:cancelled:@5", "A:timeout@5"], log.Lines);
        Assert.Equal(0, aCancellingAfter);
        Assert.False(a.IsCancelled);
        Assert.True(a.IsDone);
        Assert.True(b.IsCancelled);
        Assert.Equal(1, b.Cancelling());
    }

    [Fact]
    public void CancelAgainFromTokenCallbackWhilePassingOn_CountedAndDeliveredOnce()
    {
        static async Coroutine<(Log Log, AioTask A)> Main()
        {
            var log = new Log();
            AioTask a = null!;
            var b = Aio.CreateTask(Co.Sleep(3600), name: "B");
            async Coroutine AwaitB()
            {
                try
                {
                    await b;
                }
                catch (CancelledException ex)
                {
                    log.Add($"A:cancelled:{ex.CancelMessage}");
                }
                await Aio.Sleep(1); // one delivery only: this sleep is not interrupted
                log.Add($"A:slept@{Aio.GetRunningLoop().Time}");
            }
            a = Aio.CreateTask(AwaitB(), name: "A");
            b.CancellationToken.Register(() => a.Cancel("again"));
            await Aio.Sleep(1);
            Assert.True(a.Cancel("first"));
            await a;
            return (log, a);
        }

        var (log, a) = Virtual.Run(Main());

        Assert.Equal(["A:cancelled:again", "A:slept@2"], log.Lines);
        Assert.Equal(2, a.Cancelling());
        Assert.False(a.IsCancelled);
    }

    [Fact]
    public void WaitFor_MainAwaitingDeadlockedPair_TimesOutAndRunEnds()
    {
        AioTask alice = null!, bob = null!;
        var log = new Log();
        async Coroutine<bool> Main()
        {
            alice = Aio.CreateTask(AwaitOther("Alice", () => bob, log), name: "Alice");
            bob = Aio.CreateTask(AwaitOther("Bob", () => alice, log), name: "Bob");
            await Aio.WaitFor(Wait(alice), 10);
            return true;
        }
        static async Coroutine<bool> Wait(AioTask t)
        {
            await t;
            return true;
        }

        var ex = Assert.Throws<TimeoutException>(() => Virtual.Run(Main()));

        Assert.IsType<CancelledException>(ex.InnerException);
        Assert.Equal(["Bob:cancelled:@10", "Alice:cancelled:@10"], log.Lines);
        Assert.True(alice.IsCancelled);
        Assert.True(bob.IsCancelled);
    }

    [Fact]
    public void Run_MainReturnsWhilePairIsDeadlocked_ShutdownCancelsBothAndReturns()
    {
        AioTask alice = null!, bob = null!;
        var log = new Log();
        async Coroutine<string> Main()
        {
            alice = Aio.CreateTask(AwaitOther("Alice", () => bob, log), name: "Alice");
            bob = Aio.CreateTask(AwaitOther("Bob", () => alice, log), name: "Bob");
            await Aio.Sleep(1);
            return "main done";
        }

        var result = HangGuardRun(Main());

        Assert.Equal("main done", result);
        Assert.True(alice.IsCancelled);
        Assert.True(bob.IsCancelled);
        Assert.Equal(2, log.Lines.Count);
        Assert.Contains("Alice:cancelled:@1", log.Lines);
        Assert.Contains("Bob:cancelled:@1", log.Lines);
    }

    [Fact]
    public void Interrupt_MainAwaitingDeadlockedPair_RunThrowsKeyboardInterrupt()
    {
        AioTask alice = null!, bob = null!;
        var log = new Log();
        using var runner = new Runner(Virtual.Options());
        async Coroutine Main()
        {
            alice = Aio.CreateTask(AwaitOther("Alice", () => bob, log), name: "Alice");
            bob = Aio.CreateTask(AwaitOther("Bob", () => alice, log), name: "Bob");
            Aio.GetRunningLoop().CallLater(5, runner.Interrupt); // what Ctrl+C does
            try
            {
                await alice;
            }
            catch (CancelledException)
            {
                log.Add($"Main:cancelled@{Aio.GetRunningLoop().Time}");
                throw;
            }
        }

        var ex = Assert.Throws<KeyboardInterruptException>(() => runner.Run(Main()));

        Assert.IsType<CancelledException>(ex.InnerException);
        Assert.Equal(["Bob:cancelled:@5", "Alice:cancelled:@5", "Main:cancelled@5"], log.Lines);
        Assert.True(alice.IsCancelled);
        Assert.True(bob.IsCancelled);
        Assert.Equal(1, alice.Cancelling());
        Assert.Equal(1, bob.Cancelling());
    }

    private static T HangGuardRun<T>(Coroutine<T> main)
    {
        T result = default!;
        HangGuard.Run(() => result = Virtual.Run(main));
        return result;
    }
}
