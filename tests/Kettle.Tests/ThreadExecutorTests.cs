namespace Kettle.Tests;

public class ThreadExecutorTests
{
    private static int LoopThread => Environment.CurrentManagedThreadId;

    [Fact]
    public void ToThread_BlockingFunction_RunsOnAnotherThreadAndResumesOnTheLoop()
    {
        async Coroutine<(int Loop, int Worker, int After, string Result)> Main()
        {
            int loopThread = LoopThread;
            int worker = 0;
            var result = await Aio.ToThread(() =>
            {
                worker = Environment.CurrentManagedThreadId;
                Thread.Sleep(10);
                return "query results";
            });
            return (loopThread, worker, LoopThread, result);
        }

        var r = Virtual.Run(Main());
        Assert.Equal("query results", r.Result);
        Assert.NotEqual(r.Loop, r.Worker);
        Assert.Equal(r.Loop, r.After);
    }

    [Fact]
    public void ToThread_AsyncLocal_FlowsInAndChangesStayInTheThread()
    {
        var local = new AsyncLocal<string>();
        async Coroutine<(string? Seen, string? After)> Main()
        {
            local.Value = "parrot";
            var seen = await Aio.ToThread(() =>
            {
                var v = local.Value;
                local.Value = "changed in thread";
                return v;
            });
            return (seen, local.Value);
        }

        var r = Virtual.Run(Main());
        Assert.Equal("parrot", r.Seen);
        Assert.Equal("parrot", r.After);
    }

    [Fact]
    public void ToThread_FunctionThrows_ExceptionSurfacesAtTheAwaitWithItsType()
    {
        async Coroutine Main() => await Aio.ToThread(new Func<int>(() => throw new FormatException("bad input")));

        var ex = Assert.Throws<FormatException>(() => Virtual.Run(Main()));
        Assert.Equal("bad input", ex.Message);
    }

    [Fact]
    public void ToThread_WithArguments_PassesThem()
    {
        static int Add(int a, int b) => a + b;
        async Coroutine<int> Main() => await Aio.ToThread(Add, 40, 2);

        Assert.Equal(42, Virtual.Run(Main()));
    }

    [Fact]
    public void ToThread_AwaitingTaskCancelled_StopsWaitingAtOnceWhileTheThreadFinishesOnItsOwn()
    {
        using var release = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        bool threadFinished = false;
        async Coroutine<(bool Cancelled, bool FinishedWhenCancelled)> Main()
        {
            var job = Aio.CreateTask(Waiter());
            while (!started.IsSet)
            {
                await Aio.Yield(); // until the work is running (cancelling it while queued would drop it)
            }
            job.Cancel();
            var ex = await Record.ExceptionAsync(async () => await job);
            bool finishedThen = Volatile.Read(ref threadFinished);
            release.Set();
            return (ex is CancelledException, finishedThen);
        }

        async Coroutine Waiter() => await Aio.ToThread(() =>
        {
            started.Set();
            release.Wait();
            Volatile.Write(ref threadFinished, true);
        });

        var r = Virtual.Run(Main());
        Assert.True(r.Cancelled);
        Assert.False(r.FinishedWhenCancelled);
        Assert.True(Volatile.Read(ref threadFinished)); // Run waited for the default executor's thread
    }

    [Fact]
    public void RunInExecutor_QueuedWorkCancelled_NeverRuns()
    {
        using var pool = new ThreadPoolExecutor(maxWorkers: 1);
        using var release = new ManualResetEventSlim();
        int secondRan = 0;
        async Coroutine<bool> Main()
        {
            var first = Aio.RunInExecutor(pool, () => release.Wait());
            var second = Aio.RunInExecutor(pool, () => Interlocked.Exchange(ref secondRan, 1));
            await Aio.Yield();
            second.Cancel();
            release.Set();
            await first;
            return second.IsCancelled;
        }

        Assert.True(Virtual.Run(Main()));
        pool.Shutdown(wait: true);
        Assert.Equal(0, secondRan);
    }

    [Fact]
    public void ThreadPoolExecutor_MaxWorkers_BoundsConcurrency()
    {
        using var pool = new ThreadPoolExecutor(maxWorkers: 2);
        int running = 0, peak = 0;
        void Work()
        {
            int now = Interlocked.Increment(ref running);
            int seen;
            while ((seen = Volatile.Read(ref peak)) < now && Interlocked.CompareExchange(ref peak, now, seen) != seen)
            {
            }
            Thread.Sleep(5);
            Interlocked.Decrement(ref running);
        }

        async Coroutine Main()
        {
            var jobs = Enumerable.Range(0, 20).Select(_ => Aio.RunInExecutor(pool, Work)).ToArray();
            await Aio.Gather(jobs);
        }

        Virtual.Run(Main());
        Assert.InRange(peak, 1, 2);
    }

    [Fact]
    public async Task ThreadPoolExecutor_Submit_OutsideALoop_ReturnsATask()
    {
        using var pool = new ThreadPoolExecutor(maxWorkers: 2);
        Assert.Equal(42, await pool.Submit(() => 6 * 7));
    }

    [Fact]
    public async Task ThreadPoolExecutor_ShutdownCancellingPending_CancelsQueuedWorkAndRejectsNewWork()
    {
        var pool = new ThreadPoolExecutor(maxWorkers: 1);
        using var release = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var running = pool.Submit(() =>
        {
            started.Set();
            release.Wait();
            return 1;
        });
        var queued = pool.Submit(() => 2);
        // Shut down only once the first call runs: before that it is still queued, and cancelPending would cancel it too.
        Assert.True(started.Wait(TimeSpan.FromSeconds(60)), "the worker never started the first call");
        var shutdown = Task.Run(() => pool.Shutdown(wait: true, cancelPending: true));
        SpinWait.SpinUntil(() => pool.IsShutdown);
        release.Set();
        await shutdown;

        Assert.Equal(1, await running);
        Assert.True(queued.IsCanceled);
        var ex = Assert.Throws<InvalidOperationException>(() => { _ = pool.Submit(() => 3); });
        Assert.Contains("shut down", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThreadPoolExecutor_InvalidMaxWorkers_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ThreadPoolExecutor(maxWorkers: 0));
    }

    [Fact]
    public void Run_MainReturnsWhileThreadWorkRuns_WaitsForTheDefaultExecutor()
    {
        int finished = 0;
        async Coroutine Main()
        {
            _ = Aio.ToThread(() =>
            {
                Thread.Sleep(50);
                Volatile.Write(ref finished, 1);
            });
            await Aio.Yield();
        }

        Virtual.Run(Main());
        Assert.Equal(1, Volatile.Read(ref finished));
    }

    [Fact]
    public void ToThread_AfterDefaultExecutorShutdown_Throws()
    {
        async Coroutine Main()
        {
            Aio.GetRunningLoop().ShutdownDefaultExecutor();
            await Aio.ToThread(() => 1);
        }

        var ex = Assert.Throws<InvalidOperationException>(() => Virtual.Run(Main()));
        Assert.Contains("Executor shutdown has been called", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VirtualTime_ThreadWorkInFlight_IsWaitedForBeforeTimeJumps()
    {
        var order = new List<string>();
        async Coroutine Sleeper()
        {
            await Aio.Sleep(10);
            order.Add("sleeper");
        }

        async Coroutine Main()
        {
            var s = Aio.CreateTask(Sleeper());
            await Aio.ToThread(() => Thread.Sleep(100));
            order.Add($"thread at {Aio.GetRunningLoop().Time}");
            await s;
        }

        Virtual.Run(Main());
        Assert.Equal(["thread at 0", "sleeper"], order);
    }
    [Fact]
    public void ToThread_ManyCallsAtOnce_EachResultComesBackInItsPlaceAndNoneIsLeftPending()
    {
        static int Twice(int i) => 2 * i;
        async Coroutine<(int[] Results, int Pending)> Main()
        {
            var calls = new AioTask<int>[5000];
            for (int i = 0; i < calls.Length; i++)
            {
                calls[i] = Aio.ToThread(Twice, i);
            }
            int[] results = await Aio.Gather(calls);
            return (results, Aio.GetRunningLoop().executorPending);
        }

        var r = Virtual.Run(Main());
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => 2 * i), r.Results);
        Assert.Equal(0, r.Pending);
    }

    [Fact]
    public void ToThread_CallbackPostedByTheThreadBeforeItReturns_RunsBeforeTheResultIsDelivered()
    {
        // Results come back through their own list, callbacks through the thread-safe inbox: one thread's posts
        // still keep their order across the two, also when more results are waiting than the loop takes at once.
        async Coroutine<(int Delivered, int Early)> Main()
        {
            var loop = Aio.GetRunningLoop();
            using var pool = new ThreadPoolExecutor(maxWorkers: 1);
            var ran = new bool[3000];
            int delivered = 0, early = 0;
            var calls = new AioTask<int>[ran.Length];
            for (int i = 0; i < calls.Length; i++)
            {
                calls[i] = Aio.RunInExecutor(pool, k =>
                {
                    loop.CallSoonThreadsafe(() => ran[k] = true);
                    return k;
                }, i);
                calls[i].AddDoneCallback(t =>
                {
                    delivered++;
                    if (!ran[((AioTask<int>)t).Result])
                    {
                        early++;
                    }
                });
            }
            await Aio.Gather(calls);
            await Aio.Sleep(0);
            return (delivered, early);
        }

        var r = Virtual.Run(Main());
        Assert.Equal(3000, r.Delivered);
        Assert.Equal(0, r.Early);
    }

    [Fact]
    public void RunInExecutor_PoolShutDownCancellingPending_QueuedCallEndsCancelledAndRunningOneCompletes()
    {
        var pool = new ThreadPoolExecutor(maxWorkers: 1);
        using var release = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        int queuedRan = 0;
        async Coroutine<(int First, bool SecondCancelled, int Pending)> Main()
        {
            var first = Aio.RunInExecutor(pool, () =>
            {
                started.Set();
                release.Wait();
                return 1;
            });
            var second = Aio.RunInExecutor(pool, () => Interlocked.Exchange(ref queuedRan, 1));
            while (!started.IsSet)
            {
                await Aio.Yield(); // the first call runs; the second is queued behind it (one worker)
            }
            pool.Shutdown(wait: false, cancelPending: true);
            release.Set();
            int firstResult = await first;
            var ex = await Record.ExceptionAsync(async () => await second);
            return (firstResult, ex is CancelledException && second.IsCancelled, Aio.GetRunningLoop().executorPending);
        }

        var r = Virtual.Run(Main());
        pool.Shutdown(wait: true);
        Assert.Equal(1, r.First);
        Assert.True(r.SecondCancelled);
        Assert.Equal(0, r.Pending);
        Assert.Equal(0, queuedRan);
    }

    [Fact]
    public void RunInExecutor_QueuedCallCancelled_NoLongerCountsAsPending()
    {
        using var pool = new ThreadPoolExecutor(maxWorkers: 1);
        using var release = new ManualResetEventSlim();
        async Coroutine<(int Before, int After)> Main()
        {
            var first = Aio.RunInExecutor(pool, () => release.Wait());
            var second = Aio.RunInExecutor(pool, () => 2);
            int before = Aio.GetRunningLoop().executorPending;
            second.Cancel();
            int after = Aio.GetRunningLoop().executorPending;
            release.Set();
            await first;
            return (before, after);
        }

        var r = Virtual.Run(Main());
        Assert.Equal(2, r.Before);
        Assert.Equal(1, r.After);
    }

    [Fact]
    public void ToThread_Function_IsNamedInTheFuturesDescription()
    {
        static int Compute() => 42;
        async Coroutine<string> Main()
        {
            var call = Aio.ToThread(Compute);
            string name = call.CoroutineName;
            await call;
            return name;
        }

        Assert.Contains("Compute", Virtual.Run(Main()), StringComparison.Ordinal);
    }
}
