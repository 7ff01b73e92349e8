namespace Kettle.Tests;

/// <summary>Future, mirroring Lib/test/test_asyncio/test_futures.py.</summary>
public class FutureTests
{
    [Fact]
    public void SetResult_AwaitingTask_ResumesWithValueOneIterationLater()
    {
        // test_futures: callbacks (and the woken task) are scheduled, never run inline.
        static async Coroutine<(int, List<string>)> Main()
        {
            var log = new List<string>();
            var f = Aio.CreateFuture<int>();
            async Coroutine Waiter()
            {
                var v = await f;
                log.Add($"got {v}");
            }

            var t = Aio.CreateTask(Waiter());
            await Aio.Yield();
            f.SetResult(5);
            log.Add("set");
            await t;
            return (f.Result, log);
        }

        var (value, log) = Virtual.Run(Main());
        Assert.Equal(5, value);
        Assert.Equal(["set", "got 5"], log);
    }

    [Fact]
    public void SetException_Awaited_ThrowsThatException()
    {
        static async Coroutine<Exception?> Main()
        {
            var f = new Future<int>();
            var error = new TestException("bad");
            f.SetException(error);
            Assert.True(f.IsFaulted);
            try
            {
                await f;
            }
            catch (TestException ex)
            {
                return ex;
            }
            return null;
        }

        Assert.Equal("bad", Virtual.Run(Main())!.Message);
    }

    [Fact]
    public void SetResult_Twice_InvalidOperationExceptionTryReturnsFalse()
    {
        // test_future_result_set_twice → InvalidStateError.
        static async Coroutine<(bool, bool, int)> Main()
        {
            await Aio.Yield();
            var f = new Future<int>();
            f.SetResult(1);
            Assert.Throws<InvalidOperationException>(() => f.SetResult(2));
            Assert.Throws<InvalidOperationException>(() => f.SetException(new TestException()));
            return (f.TrySetResult(3), f.TrySetException(new TestException()), f.Result);
        }

        Assert.Equal((false, false, 1), Virtual.Run(Main()));
    }

    [Fact]
    public void Result_Pending_InvalidOperationException()
    {
        // "Result is not set."
        static async Coroutine<Exception?> Main()
        {
            await Aio.Yield();
            var f = new Future<int>();
            return Record.Exception(() => f.Result);
        }

        Assert.IsType<InvalidOperationException>(Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_Pending_CancelledAtOnceResultAndExceptionThrowCancelled()
    {
        // test_future_cancel: cancelled() at once; result()/exception() raise CancelledError.
        static async Coroutine<(bool, bool, bool, string?)> Main()
        {
            await Aio.Yield();
            var f = new Future<int>();
            bool accepted = f.Cancel("why");
            var r = Record.Exception(() => f.Result);
            var e = Record.Exception(() => f.Exception);
            return (accepted, f.IsCancelled, r is CancelledException && e is CancelledException, ((CancelledException)r!).CancelMessage);
        }

        Assert.Equal((true, true, true, "why"), Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_Done_ReturnsFalseResultKept()
    {
        static async Coroutine<(bool, int)> Main()
        {
            await Aio.Yield();
            var f = new Future<int>();
            f.SetResult(4);
            return (f.Cancel(), f.Result);
        }

        Assert.Equal((false, 4), Virtual.Run(Main()));
    }

    [Fact]
    public void SetResult_AfterCancel_InvalidOperationException()
    {
        static async Coroutine<bool> Main()
        {
            await Aio.Yield();
            var f = new Future<int>();
            f.Cancel();
            Assert.Throws<InvalidOperationException>(() => f.SetResult(1));
            return f.TrySetResult(1);
        }

        Assert.False(Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_TaskAwaitingFuture_FutureCancelledToo()
    {
        // Cancelling the waiting task cancels the future it awaits (asyncio: _fut_waiter.cancel()).
        static async Coroutine<(bool, bool, string?)> Main()
        {
            var f = new Future<int>();
            async Coroutine<int> Waiter() => await f;
            var t = Aio.CreateTask(Waiter());
            await Aio.Yield();
            t.Cancel("stop");
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            return (f.IsCancelled, t.IsCancelled, ((CancelledException)Record.Exception(() => t.Result)!).CancelMessage);
        }

        Assert.Equal((true, true, "stop"), Virtual.Run(Main()));
    }

    [Fact]
    public void AddDoneCallback_SetResult_CallbackQueuedNotInline()
    {
        static async Coroutine<List<string>> Main()
        {
            var log = new List<string>();
            var f = new Future<string>();
            f.AddDoneCallback(x => log.Add("cb " + ((Future<string>)x).Result));
            f.SetResult("v");
            log.Add("after set");
            await Aio.Yield();
            // Already done: the callback is still queued, not run inline.
            f.AddDoneCallback(_ => log.Add("late cb"));
            log.Add("after late add");
            await Aio.Yield();
            return log;
        }

        Assert.Equal(["after set", "cb v", "after late add", "late cb"], Virtual.Run(Main()));
    }

    [Fact]
    public void RemoveDoneCallback_Registered_NotCalledAndCountReturned()
    {
        static async Coroutine<(int, int)> Main()
        {
            int calls = 0;
            var f = new Future<int>();
            Action<AioTask> cb = _ => calls++;
            f.AddDoneCallback(cb);
            f.AddDoneCallback(cb);
            f.AddDoneCallback(_ => { });
            int removed = f.RemoveDoneCallback(cb);
            f.SetResult(1);
            await Aio.Yield();
            return (removed, calls);
        }

        Assert.Equal((2, 0), Virtual.Run(Main()));
    }

    [Fact]
    public void ToString_States_AsAsyncioRepr()
    {
        static async Coroutine<string[]> Main()
        {
            await Aio.Yield();
            var a = new Future<int>();
            var b = new Future<int>();
            b.SetResult(1);
            var c = new Future<int>();
            c.Cancel();
            var d = new Future<int>();
            d.SetException(new TestException());
            _ = d.Exception;
            return [a.ToString(), b.ToString(), c.ToString(), d.ToString()];
        }

        Assert.Equal(
            ["<Future pending>", "<Future finished>", "<Future cancelled>", "<Future finished exception=TestException>"],
            Virtual.Run(Main()));
    }
}
