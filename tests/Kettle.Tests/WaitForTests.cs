namespace Kettle.Tests;

/// <summary>Aio.WaitFor, mirroring Lib/test/test_asyncio/test_waitfor.py (3.12+ semantics, SEMANTICS.md §6).</summary>
public class WaitForTests
{
    private static double Now => Aio.GetRunningLoop().Time;

    [Fact]
    public void WaitFor_FinishesInTime_ReturnsResult()
    {
        // test_wait_for_result-ish.
        static async Coroutine<(int, double)> Main()
        {
            var v = await Aio.WaitFor(Co.Return(3, 1), 2);
            return (v, Now);
        }

        Assert.Equal((3, 1.0), Virtual.Run(Main()));
    }

    [Fact]
    public void WaitFor_TaskTooSlow_TimeoutExceptionAndTaskCancelled()
    {
        // test_wait_for: the task is cancelled when the timeout passes, and the cancellation is waited for.
        static async Coroutine<(Exception?, bool, double)> Main()
        {
            async Coroutine<string> Foo()
            {
                try
                {
                    await Aio.Sleep(10);
                }
                catch (CancelledException)
                {
                    await Aio.Sleep(0.5); // slow cleanup: wait_for waits for it
                    throw;
                }
                return "done";
            }

            var fut = Aio.CreateTask(Foo());
            Exception? caught = null;
            try
            {
                await Aio.WaitFor(fut, 0.1);
            }
            catch (TimeoutException ex)
            {
                caught = ex;
            }
            return (caught, fut.IsCancelled, Now);
        }

        var (caught, cancelled, time) = Virtual.Run(Main());
        Assert.IsType<CancelledException>(Assert.IsType<TimeoutException>(caught).InnerException);
        Assert.True(cancelled);
        Assert.Equal(0.6, time, 9);
    }

    [Fact]
    public void WaitFor_CoroutineRunsInCallerTask_NoNewTask()
    {
        // 3.12+: wait_for(coro) runs the coroutine inside the calling task.
        static async Coroutine<bool> Main()
        {
            var caller = Aio.CurrentTask;
            async Coroutine<AioTask?> Who()
            {
                await Aio.Yield();
                return Aio.CurrentTask;
            }

            return ReferenceEquals(caller, await Aio.WaitFor(Who(), 1));
        }

        Assert.True(Virtual.Run(Main()));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void WaitFor_TimeoutZeroOrLessCoroutine_NeverStarts(double timeout)
    {
        // test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started.
        static async Coroutine<(bool, bool)> Main(double timeout)
        {
            bool started = false;
            async Coroutine<int> Foo()
            {
                started = true;
                await Aio.Yield();
                return 1;
            }

            bool timedOut = false;
            try
            {
                await Aio.WaitFor(Foo(), timeout);
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            return (timedOut, started);
        }

        Assert.Equal((true, false), Virtual.Run(Main(timeout)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void WaitFor_TimeoutZeroOrLessRunningTask_CancelledAndWaitedFor(double timeout)
    {
        // test_wait_for_timeout_less_then_0_or_0.
        static async Coroutine<(bool, bool, bool?)> Main(double timeout)
        {
            bool? fooRunning = null;
            var started = new Future<bool>();
            async Coroutine<string> Foo()
            {
                fooRunning = true;
                started.SetResult(true);
                try
                {
                    await Aio.Sleep(10);
                }
                finally
                {
                    fooRunning = false;
                }
                return "done";
            }

            var fut = Aio.CreateTask(Foo());
            await started;
            bool timedOut = false;
            try
            {
                await Aio.WaitFor(fut, timeout);
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            return (timedOut, fut.IsCancelled, fooRunning);
        }

        Assert.Equal((true, true, false), Virtual.Run(Main(timeout)));
    }

    [Fact]
    public void WaitFor_TimeoutZeroTaskAlreadyDone_ReturnsResult()
    {
        // test_wait_for_timeout_less_then_0_or_0_future_done.
        static async Coroutine<string> Main()
        {
            var fut = new Future<string>();
            fut.SetResult("done");
            return await Aio.WaitFor(fut, 0);
        }

        Assert.Equal("done", Virtual.Run(Main()));
    }

    [Fact]
    public void WaitFor_TimeoutZeroTaskSwallowsCancel_ReturnsItsResult()
    {
        static async Coroutine<int> Main()
        {
            async Coroutine<int> Stubborn()
            {
                try
                {
                    await Aio.Sleep(10);
                }
                catch (CancelledException)
                {
                }
                return 5;
            }

            var t = Aio.CreateTask(Stubborn());
            await Aio.Yield();
            return await Aio.WaitFor(t, 0);
        }

        Assert.Equal(5, Virtual.Run(Main()));
    }

    [Fact]
    public void WaitFor_CancelSuppressedByCoroutine_ReturnsValue()
    {
        // test_wait_for_cancel_suppressed (GH-86296) → 42.
        static async Coroutine<(int, int, double)> Main()
        {
            async Coroutine<int> Return42()
            {
                try
                {
                    await Aio.Sleep(10);
                }
                catch (CancelledException)
                {
                    return 42;
                }
                return 0;
            }

            var res = await Aio.WaitFor(Return42(), 0.1);
            return (res, Aio.CurrentTask!.Cancelling(), Now);
        }

        Assert.Equal((42, 0, 0.1), Virtual.Run(Main()));
    }

    [Fact]
    public void WaitFor_ExceptionDuringCancellation_ThatExceptionNotTimeout()
    {
        // test_wait_for_reraises_exception_during_cancellation.
        static async Coroutine<Exception?> Main()
        {
            async Coroutine<int> Foo()
            {
                try
                {
                    await Aio.Sleep(0.2);
                }
                catch (CancelledException)
                {
                    throw new TestException("foo");
                }
                return 0;
            }

            try
            {
                await Aio.WaitFor(Foo(), 0.01);
            }
            catch (Exception ex)
            {
                return ex;
            }
            return null;
        }

        Assert.IsType<TestException>(Virtual.Run(Main()));
    }

    [Theory]
    [InlineData(null)]
    [InlineData(60.0)]
    public void Cancel_TaskInWaitFor_AwaitedTaskCancelled(double? timeout)
    {
        // test_cancel_blocking_wait_for / test_cancel_wait_for (issue 23219).
        static async Coroutine<(bool, bool)> Main(double? timeout)
        {
            async Coroutine<int> Blocking() => await new Future<int>();
            var task = Aio.CreateTask(Blocking());
            var wait = Aio.CreateTask(Aio.WaitFor(task, timeout));
            await Aio.Sleep(0.01);
            wait.Cancel();
            bool raised = false;
            try
            {
                await wait;
            }
            catch (CancelledException)
            {
                raised = true;
            }
            return (raised, task.IsCancelled);
        }

        Assert.Equal((true, true), Virtual.Run(Main(timeout)));
    }

    [Fact]
    public void WaitFor_NullTimeout_PlainAwait()
    {
        static async Coroutine<(int, double)> Main()
        {
            var v = await Aio.WaitFor(Co.Return(8, 1000), (double?)null);
            return (v, Now);
        }

        Assert.Equal((8, 1000.0), Virtual.Run(Main()));
    }

    [Fact]
    public void WaitFor_CreatedThenAwaitedLater_DeadlineCountsFromAwait()
    {
        // wait_for is an async def: nothing (neither the deadline nor ensure_future) happens before it is awaited.
        static async Coroutine<(int, double, bool)> Main()
        {
            var w = Aio.WaitFor(Co.Return(1, 1), 1.5);
            bool started = false;
            async Coroutine<int> Foo()
            {
                started = true;
                await Aio.Yield();
                return 2;
            }

            var zero = Aio.WaitFor(Foo(), 0);
            await Aio.Sleep(1);
            bool startedBeforeAwait = started;
            var v = await w; // deadline 2.5; finishes at 2
            try
            {
                await zero;
            }
            catch (TimeoutException)
            {
            }
            return (v, Now, startedBeforeAwait || started);
        }

        Assert.Equal((1, 2.0, false), Virtual.Run(Main()));
    }
}
