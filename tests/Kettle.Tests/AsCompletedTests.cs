namespace Kettle.Tests;

/// <summary>Aio.AsCompleted, mirroring test_tasks.py test_as_completed_* (3.13+ form, SEMANTICS.md §7).</summary>
public class AsCompletedTests
{
    private static double Now => Aio.GetRunningLoop().Time;

    [Fact]
    public void AsCompleted_PlainForeach_ResultsInCompletionOrder()
    {
        // test_as_completed.
        static async Coroutine<(List<string>, double)> Main()
        {
            var values = new List<string>();
            foreach (var next in Aio.AsCompleted([Co.Return("c", 0.3), Co.Return("a", 0.1), Co.Return("b", 0.2)]))
            {
                values.Add(await next);
            }
            return (values, Now);
        }

        var (values, time) = Virtual.Run(Main());
        Assert.Equal(["a", "b", "c"], values);
        Assert.Equal(0.3, time, 9);
    }

    [Fact]
    public void AsCompleted_AwaitForeach_YieldsOriginalTasksInCompletionOrder()
    {
        // test_as_completed_yields_original_futures (async for gives the original futures/tasks).
        static async Coroutine<bool> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 0.3));
            var b = Aio.CreateTask(Co.Return(2, 0.1));
            var c = Aio.CreateTask(Co.Return(3, 0.2));
            var seen = new List<AioTask<int>>();
            await foreach (var t in Aio.AsCompleted([a, b, c]))
            {
                seen.Add(t);
            }
            return seen.Count == 3 && ReferenceEquals(seen[0], b) && ReferenceEquals(seen[1], c) && ReferenceEquals(seen[2], a);
        }

        Assert.True(Virtual.Run(Main()));
    }

    [Fact]
    public void AsCompleted_FailingChild_AwaitRaisesItsException()
    {
        static async Coroutine<List<string>> Main()
        {
            var log = new List<string>();
            foreach (var next in Aio.AsCompleted([Co.Return("ok", 0.2), Fail(0.1)]))
            {
                try
                {
                    log.Add(await next);
                }
                catch (TestException ex)
                {
                    log.Add("error " + ex.Message);
                }
            }
            return log;
        }

        static async Coroutine<string> Fail(double s)
        {
            await Aio.Sleep(s);
            throw new TestException("x");
        }

        Assert.Equal(["error x", "ok"], Virtual.Run(Main()));
    }

    [Fact]
    public void AsCompleted_Timeout_TimeoutExceptionPendingKeepRunning()
    {
        // test_as_completed_with_timeout: the late one raises TimeoutError at the deadline and is not cancelled.
        static async Coroutine<(List<string>, double, bool, string)> Main()
        {
            var a = Aio.CreateTask(Co.Return("a", 0.1));
            var b = Aio.CreateTask(Co.Return("b", 0.15));
            var values = new List<string>();
            double timedOutAt = -1;
            foreach (var f in Aio.AsCompleted([a, b], timeout: 0.12))
            {
                try
                {
                    values.Add("1 " + await f);
                }
                catch (TimeoutException)
                {
                    values.Add("2");
                    timedOutAt = Now;
                }
            }
            bool bPending = !b.IsDone;
            return (values, timedOutAt, bPending, await b);
        }

        var (values, timedOutAt, bPending, bResult) = Virtual.Run(Main());
        Assert.Equal(["1 a", "2"], values);
        Assert.Equal(0.12, timedOutAt, 9);
        Assert.True(bPending);
        Assert.Equal("b", bResult);
    }

    [Fact]
    public void AsCompleted_TaskFinishesAfterDeadlineBeforeNextAwait_StillTimeout()
    {
        // Once the deadline passed, everything still pending then raises TimeoutError, even if it finished
        // before the consumer asked (asyncio removes its callbacks and queues a timeout marker per task).
        static async Coroutine<List<string>> Main()
        {
            var a = Aio.CreateTask(Co.Return("a", 0.1));
            var b = Aio.CreateTask(Co.Return("b", 0.15));
            var values = new List<string>();
            foreach (var f in Aio.AsCompleted([a, b], timeout: 0.12))
            {
                try
                {
                    values.Add(await f);
                }
                catch (TimeoutException)
                {
                    values.Add("timeout");
                }
                await Aio.Sleep(1); // slow consumer: b is done (at 0.15) before the next await
            }
            return values;
        }

        Assert.Equal(["a", "timeout"], Virtual.Run(Main()));
    }

    [Fact]
    public void AsCompleted_UnusedTimeout_AllResults()
    {
        // test_as_completed_with_unused_timeout.
        static async Coroutine<List<string>> Main()
        {
            var values = new List<string>();
            foreach (var f in Aio.AsCompleted([Co.Return("a", 0.01)], timeout: 1))
            {
                values.Add(await f);
            }
            await Aio.Sleep(2); // the unused timeout firing later changes nothing
            return values;
        }

        Assert.Equal(["a"], Virtual.Run(Main()));
    }

    [Fact]
    public void AsCompleted_AwaitablesAwaitedInReverse_EachGivesNextCompletion()
    {
        // test_as_completed_reverse_wait.
        static async Coroutine<(string, double, string, double)> Main()
        {
            var futs = Aio.AsCompleted([Co.Return("a", 0.05), Co.Return("b", 0.10)]).ToList();
            Assert.Equal(2, futs.Count);
            var x = await futs[1];
            var tx = Now;
            var y = await futs[0];
            return (x, tx, y, Now);
        }

        var (x, tx, y, ty) = Virtual.Run(Main());
        Assert.Equal("a", x);
        Assert.Equal(0.05, tx, 9);
        Assert.Equal("b", y);
        Assert.Equal(0.10, ty, 9);
    }

    [Fact]
    public void AsCompleted_AwaitablesAwaitedConcurrently_EachGetsOneResult()
    {
        // test_as_completed_concurrent: the awaitables run concurrently as tasks.
        static async Coroutine<string[]> Main()
        {
            var futs = Aio.AsCompleted([Co.Return("a", 0.05), Co.Return("b", 0.05)]).ToList();
            var tasks = futs.Select(f => Aio.CreateTask(f)).ToList();
            var (done, pending) = await Aio.Wait(tasks);
            Assert.Empty(pending);
            return done.Select(t => t.Result).Order().ToArray();
        }

        string[] result = [];
        HangGuard.Run(() => result = Virtual.Run(Main()));
        Assert.Equal(["a", "b"], result);
    }

    [Fact]
    public void AsCompleted_DuplicateTasks_Collapse()
    {
        // test_as_completed_duplicate_coroutines: duplicates collapse (a set).
        static async Coroutine<List<int>> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 0.1));
            var values = new List<int>();
            foreach (var f in Aio.AsCompleted([a, a]))
            {
                values.Add(await f);
            }
            return values;
        }

        Assert.Equal([1], Virtual.Run(Main()));
    }

    [Fact]
    public void AsCompleted_OneOfTwoConcurrentAwaitsCancelled_OtherStillGetsNextResult()
    {
        static async Coroutine<(bool, string, double)> Main()
        {
            var futs = Aio.AsCompleted([Co.Return("a", 1), Co.Return("b", 2)]).ToList();
            var c1 = Aio.CreateTask(futs[0]);
            var c2 = Aio.CreateTask(futs[1]);
            await Aio.Sleep(0.5);
            c1.Cancel();
            bool cancelled = false;
            try
            {
                await c1;
            }
            catch (CancelledException)
            {
                cancelled = true;
            }
            var r = await c2;
            return (cancelled, r, Now);
        }

        (bool, string, double) result = default;
        HangGuard.Run(() => result = Virtual.Run(Main()));
        Assert.Equal((true, "a", 1.0), result);
    }
}
