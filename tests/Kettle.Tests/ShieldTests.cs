using System.Runtime.CompilerServices;

namespace Kettle.Tests;

/// <summary>Aio.Shield, mirroring test_tasks.py test_shield_* and test_waitfor.py WaitForShieldTests (SEMANTICS.md §5).</summary>
public class ShieldTests
{
    [Fact]
    public void Shield_InnerResult_OuterGetsIt()
    {
        // test_shield_result.
        static async Coroutine<(int, bool)> Main()
        {
            var inner = new Future<int>();
            var outer = Aio.Shield(inner);
            bool distinct = !ReferenceEquals(inner, outer);
            inner.SetResult(42);
            return (await outer, distinct);
        }

        Assert.Equal((42, true), Virtual.Run(Main()));
    }

    [Fact]
    public void Shield_InnerException_OuterGetsIt()
    {
        // test_shield_exception.
        static async Coroutine<Exception?> Main()
        {
            var inner = new Future<int>();
            var outer = Aio.Shield(inner);
            var error = new TestException("inner");
            inner.SetException(error);
            try
            {
                await outer;
            }
            catch (Exception ex)
            {
                return ex;
            }
            return null;
        }

        Assert.Equal("inner", Assert.IsType<TestException>(Virtual.Run(Main())).Message);
    }

    [Fact]
    public void Shield_InnerCancelled_OuterCancelled()
    {
        // test_shield_cancel_inner.
        static async Coroutine<bool> Main()
        {
            var inner = new Future<int>();
            var outer = Aio.Shield(inner);
            inner.Cancel();
            await Aio.Yield();
            return outer.IsCancelled;
        }

        Assert.True(Virtual.Run(Main()));
    }

    [Fact]
    public void Shield_OuterCancelled_InnerKeepsRunningAndOuterStaysCancelled()
    {
        // test_shield_cancel_outer.
        static async Coroutine<(bool, bool, bool, int)> Main()
        {
            var inner = new Future<int>();
            var outer = Aio.Shield(inner);
            outer.Cancel();
            await Aio.Yield();
            bool innerPending = !inner.IsDone;
            inner.SetResult(1);
            await Aio.Yield();
            return (outer.IsCancelled, innerPending, inner.IsCancelled, inner.Result);
        }

        Assert.Equal((true, true, false, 1), Virtual.Run(Main()));
    }

    [Fact]
    public void Shield_InnerAlreadyDone_ReturnsInnerItself()
    {
        // test_shield_shortcut.
        static async Coroutine<bool> Main()
        {
            var fut = new Future<int>();
            fut.SetResult(42);
            await Aio.Yield();
            return ReferenceEquals(fut, Aio.Shield(fut));
        }

        Assert.True(Virtual.Run(Main()));
    }

    [Fact]
    public void Shield_AwaitingTaskCancelled_InnerCoroutineCompletes()
    {
        // test_shield_effect: cancelling outer() does not affect inner().
        static async Coroutine<(bool, int)> Main()
        {
            int proof = 0;
            var waiter = new Future<bool>();
            async Coroutine<int> Inner()
            {
                await waiter;
                proof += 1;
                return 0;
            }

            async Coroutine Outer()
            {
                await Aio.Shield(Inner());
                proof += 100;
            }

            var f = Aio.CreateTask(Outer());
            await Aio.Yield();
            f.Cancel();
            bool cancelled = false;
            try
            {
                await f;
            }
            catch (CancelledException)
            {
                cancelled = true;
            }
            waiter.SetResult(true);
            await Aio.Yield();
            await Aio.Yield();
            return (cancelled, proof);
        }

        Assert.Equal((true, 1), Virtual.Run(Main()));
    }

    [Fact]
    public void Shield_OfGatherCancelled_GatherKeepsRunning()
    {
        // test_shield_gather.
        static async Coroutine<(bool, int[])> Main()
        {
            var child1 = new Future<int>();
            var child2 = new Future<int>();
            var parent = Aio.Gather(child1, child2);
            var outer = Aio.Shield(parent);
            await Aio.Yield();
            outer.Cancel();
            await Aio.Yield();
            child1.SetResult(1);
            child2.SetResult(2);
            await Aio.Yield();
            return (outer.IsCancelled, parent.Result);
        }

        var (cancelled, result) = Virtual.Run(Main());
        Assert.True(cancelled);
        Assert.Equal([1, 2], result);
    }

    [Fact]
    public void Gather_OfShieldsCancelled_ShieldsCancelledNotChildren()
    {
        // test_gather_shield.
        static async Coroutine<(bool, bool, bool, bool, bool)> Main()
        {
            var child1 = new Future<int>();
            var child2 = new Future<int>();
            var inner1 = Aio.Shield(child1);
            var inner2 = Aio.Shield(child2);
            var parent = Aio.Gather(inner1, inner2);
            await Aio.Yield();
            parent.Cancel();
            await Aio.Yield();
            bool parentCancelledError = Record.Exception(() => parent.Result) is CancelledException;
            bool childrenPending = !child1.IsDone && !child2.IsDone;
            child1.SetResult(1);
            child2.SetResult(2);
            await Aio.Yield();
            return (parentCancelledError, inner1.IsCancelled, inner2.IsCancelled, childrenPending, child1.Result + child2.Result == 3);
        }

        Assert.Equal((true, true, true, true, true), Virtual.Run(Main()));
    }

    [Fact]
    public void WaitFor_ShieldTimeoutZero_ShieldCancelledTaskContinues()
    {
        // WaitForShieldTests.test_zero_timeout.
        static async Coroutine<(bool, bool, string)> Main()
        {
            var t = Aio.CreateTask(Co.Return("result", 1));
            bool timedOut = false;
            try
            {
                await Aio.WaitFor(Aio.Shield(t), 0);
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            bool stillRunning = !t.IsDone;
            return (timedOut, stillRunning, await t);
        }

        Assert.Equal((true, true, "result"), Virtual.Run(Main()));
    }

    [Fact]
    public void WaitFor_ShieldTimeoutFires_ShieldCancelledTaskContinues()
    {
        // WaitForShieldTests.test_none_timeout / test_positive_timeout shape: the timeout cancels the shield only.
        static async Coroutine<(bool, string, double)> Main()
        {
            var t = Aio.CreateTask(Co.Return("result", 1));
            bool timedOut = false;
            try
            {
                await Aio.WaitFor(Aio.Shield(t), 0.1);
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            var r = await t;
            return (timedOut, r, Aio.GetRunningLoop().Time);
        }

        Assert.Equal((true, "result", 1.0), Virtual.Run(Main()));
    }

    private static async Coroutine<int> FailAfter(double seconds, string message)
    {
        await Aio.Sleep(seconds);
        throw new TestException(message);
    }

    private static async Coroutine<int> ReturnAfter(double seconds)
    {
        await Aio.Sleep(seconds);
        return 1;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static AioTask<int> CancelledShieldOf(Coroutine<int> inner)
    {
        var outer = Aio.Shield(inner);
        outer.Cancel();
        return outer;
    }

    private static ReportCollector RunWithRunner(Func<Coroutine> main)
    {
        var reports = new ReportCollector();
        using (var runner = new Runner(Virtual.Options()))
        {
            runner.Loop.SetExceptionHandler(reports.Handle);
            runner.Run(main());
        }
        return reports;
    }

    [Fact]
    public void Shield_OuterCancelledInnerLaterFails_ReportedAsNeverRetrieved()
    {
        // test_shield_cancel_outer_exception: the inner exception is logged once.
        static async Coroutine Main()
        {
            var outer = CancelledShieldOf(FailAfter(1, "unseen"));
            await Aio.Sleep(2);
            Assert.True(outer.IsCancelled);
        }

        var reports = RunWithRunner(Main);

        var report = Assert.Single(reports.Matching("never retrieved"));
        Assert.Equal("unseen", Assert.IsType<TestException>(report.Exception).Message);
    }

    [Fact]
    public void Shield_OuterCancelledInnerLaterSucceeds_NothingReported()
    {
        // test_shield_cancel_outer_result.
        static async Coroutine Main()
        {
            var outer = CancelledShieldOf(ReturnAfter(1));
            await Aio.Sleep(2);
            Assert.True(outer.IsCancelled);
        }

        Assert.Empty(RunWithRunner(Main).Items);
    }

    [Fact]
    public void Shield_Callbacks_QueuedInAsyncioOrder()
    {
        // asyncio: the shield's inner callback is the inner task's first done callback and is queued (call_soon), so
        // a callback the inner task queued before it ended runs before the outer future is set; the outer's own done
        // callbacks are queued when it is set, after the inner's remaining callbacks; the awaiting task comes last.
        static async Coroutine<List<string>> Main()
        {
            var log = new List<string>();
            AioTask<int> outer = null!;
            async Coroutine<int> Inner()
            {
                await Aio.Yield();
                Aio.GetRunningLoop().CallSoon(() => log.Add($"queued by inner: outer done={outer.IsDone}"));
                return 7;
            }

            var inner = Aio.CreateTask(Inner());
            outer = Aio.Shield(inner);
            inner.AddDoneCallback(_ => log.Add($"inner callback: outer done={outer.IsDone}"));
            outer.AddDoneCallback(_ => log.Add("outer callback"));
            log.Add($"awaited {await outer}");
            return log;
        }

        Assert.Equal(
            ["queued by inner: outer done=False", "inner callback: outer done=True", "outer callback", "awaited 7"],
            Virtual.Run(Main()));
    }
}
