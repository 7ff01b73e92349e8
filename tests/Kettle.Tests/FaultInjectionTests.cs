using System.Runtime.ExceptionServices;

namespace Kettle.Tests;

/// <summary>
/// Cancellation safety, proved by brute force: a small multi-task program (a TaskGroup of a producer and two
/// consumers sharing a bounded queue and a lock, each consumer gathering children under a timeout, every task
/// holding an async resource) is run once per await point with a failure, and once per await point with a
/// cancellation of the whole program, injected exactly there. Every run must end with the right outcome, no
/// task still alive when the program's last line runs, the lock free, and every cleanup (finally and
/// <c>await using</c>, including cleanup that itself awaits) run exactly once.
/// </summary>
public sealed class FaultInjectionTests
{
    private const int Items = 4;

    // 0+1+2+3 doubled, plus (x+1) doubled: each item x contributes 2x + 2(x+1).
    private static readonly int ExpectedTotal = Enumerable.Range(0, Items).Sum(x => (2 * x) + (2 * (x + 1)));

    [Fact]
    public void Program_WithoutInjection_ComputesItsResultAndCleansUp()
    {
        var probe = new Probe(target: 0, cancel: false);
        int total = Virtual.Run(Program(probe));
        Assert.Equal(ExpectedTotal, total);
        probe.AssertClean();
        Assert.True(probe.Points > 20, $"the program has only {probe.Points} await points");
    }

    [Fact]
    public void Failure_AtEveryAwaitPoint_SurfacesInTheGroupAndLeaksNothing()
    {
        int points = CountPoints();
        for (int k = 1; k <= points; k++)
        {
            var probe = new Probe(target: k, cancel: false);
            var error = Assert.ThrowsAny<Exception>(() => Virtual.Run(Program(probe)));
            Assert.True(probe.Fired, $"point {k}: the injection did not fire");
            // The fault comes out of the TaskGroup as an exception group holding it (nested groups kept as such),
            // never as a cancellation and never lost.
            var group = Assert.IsType<ExceptionGroup>(error);
            var leaves = group.Leaves().ToArray();
            Assert.True(
                leaves.Length == 1 && leaves[0] is InjectedFault f && f.Point == k,
                $"point {k}: expected exactly the injected fault, got {error}");
            probe.AssertClean($"failure at point {k}");
        }
    }

    [Fact]
    public void Cancellation_AtEveryAwaitPoint_EndsTheProgramCancelledAndLeaksNothing()
    {
        int points = CountPoints();
        for (int k = 1; k <= points; k++)
        {
            var probe = new Probe(target: k, cancel: true);
            var error = Assert.ThrowsAny<Exception>(() => Virtual.Run(Program(probe)));
            Assert.True(probe.Fired, $"point {k}: the injection did not fire");
            var cancelled = Assert.IsType<CancelledException>(error);
            Assert.Equal("injected", cancelled.CancelMessage);
            probe.AssertClean($"cancellation at point {k}");
        }
    }

    private static int CountPoints()
    {
        var probe = new Probe(target: 0, cancel: false);
        Virtual.Run(Program(probe));
        return probe.Points;
    }

    private static async Coroutine<int> Program(Probe probe)
    {
        probe.Main = Aio.CurrentTask;
        var queue = new AioQueue<int>(maxSize: 2);
        var lk = new AioLock();
        probe.Lock = lk;
        try
        {
            await using var res = probe.Resource();
            return await TaskGroup.Run(async tg =>
            {
                var producer = tg.CreateTask(Producer(probe, queue), "producer");
                var c1 = tg.CreateTask(Consumer(probe, queue, lk), "consumer-1");
                var c2 = tg.CreateTask(Consumer(probe, queue, lk), "consumer-2");
                probe.Point();
                await producer;
                probe.Point();
                await queue.Join();
                queue.Shutdown();
                probe.Point();
                int a = await c1;
                probe.Point();
                int b = await c2;
                return a + b;
            });
        }
        finally
        {
            // The program's last line: nothing it started may still be alive.
            probe.AliveAtEnd = Aio.AllTasks().Where(t => !ReferenceEquals(t, Aio.CurrentTask)).Select(t => t.Name).ToArray();
        }
    }

    private static async Coroutine Producer(Probe probe, AioQueue<int> queue)
    {
        await using var res = probe.Resource();
        for (int i = 0; i < Items; i++)
        {
            probe.Point();
            await queue.Put(i);
            probe.Point();
            await Aio.Sleep(0.1);
        }
    }

    private static async Coroutine<int> Consumer(Probe probe, AioQueue<int> queue, AioLock lk)
    {
        await using var res = probe.Resource();
        int sum = 0;
        while (true)
        {
            int x;
            try
            {
                probe.Point();
                x = await queue.Get();
            }
            catch (QueueShutDownException)
            {
                return sum;
            }
            try
            {
                probe.Point();
                using (await lk.Acquire())
                {
                    await Aio.Timeout(5.0, async _ =>
                    {
                        probe.Point();
                        await Aio.Sleep(0.05);
                    });
                }
                probe.Point();
                var outcomes = await Aio.GatherReturningExceptions(Child(probe, x), Child(probe, x + 1));
                foreach (var o in outcomes)
                {
                    if (!o.IsSuccess)
                    {
                        ExceptionDispatchInfo.Throw(o.Exception!);
                    }
                    sum += o.Value;
                }
            }
            finally
            {
                queue.TaskDone();
            }
        }
    }

    private static async Coroutine<int> Child(Probe probe, int x)
    {
        await using var res = probe.Resource();
        probe.Point();
        return await Aio.WaitFor(Doubled(probe, x), 5.0);
    }

    private static async Coroutine<int> Doubled(Probe probe, int x)
    {
        probe.Point();
        await Aio.Sleep(0.01 * (x + 1));
        return 2 * x;
    }

    private sealed class InjectedFault(int point) : Exception($"injected fault at await point {point}")
    {
        public int Point { get; } = point;
    }

    /// <summary>Counts await points (a call just before each await) and injects at the target one.</summary>
    private sealed class Probe(int target, bool cancel)
    {
        private int opened;
        private int closed;
        private int closedTwice;

        public int Points { get; private set; }

        public bool Fired { get; private set; }

        public AioTask? Main { get; set; }

        public AioLock? Lock { get; set; }

        public string[]? AliveAtEnd { get; set; }

        public void Point()
        {
            Points++;
            if (Points != target)
            {
                return;
            }
            Fired = true;
            if (cancel)
            {
                Main!.Cancel("injected");
            }
            else
            {
                throw new InjectedFault(Points);
            }
        }

        public Resource Resource()
        {
            opened++;
            return new Resource(this);
        }

        public void Closed(bool twice)
        {
            closed++;
            if (twice)
            {
                closedTwice++;
            }
        }

        public void AssertClean(string when = "normal run")
        {
            Assert.True(AliveAtEnd is not null, $"{when}: the program's finally did not run");
            Assert.True(AliveAtEnd!.Length == 0, $"{when}: tasks still alive at the end: {string.Join(", ", AliveAtEnd)}");
            Assert.True(opened == closed, $"{when}: {opened} resources opened, {closed} closed");
            Assert.True(closedTwice == 0, $"{when}: a resource was disposed twice");
            Assert.False(Lock!.IsLocked, $"{when}: the lock is still held");
        }
    }

    /// <summary>An async resource whose cleanup awaits, as a real connection's close does.</summary>
    private sealed class Resource(Probe probe) : IAsyncDisposable
    {
        private bool disposed;

        public async ValueTask DisposeAsync()
        {
            bool twice = disposed;
            disposed = true;
            await Aio.Sleep(0.001);
            probe.Closed(twice);
        }
    }
}
