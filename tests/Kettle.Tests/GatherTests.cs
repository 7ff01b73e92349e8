namespace Kettle.Tests;

/// <summary>Aio.Gather, mirroring test_tasks.py GatherTestsBase / test_cancel_gather_* (SEMANTICS.md §4).</summary>
public class GatherTests
{
    private static double Now => Aio.GetRunningLoop().Time;

    [Fact]
    public void Gather_ChildrenFinishOutOfOrder_ResultsInArgumentOrder()
    {
        static async Coroutine<(int[], double)> Main()
        {
            var r = await Aio.Gather(Co.Return(1, 3), Co.Return(2, 1), Co.Return(3, 2));
            return (r, Now);
        }

        var (results, time) = Virtual.Run(Main());
        Assert.Equal([1, 2, 3], results);
        Assert.Equal(3, time);
    }

    [Fact]
    public void Gather_NoArguments_AlreadyDoneWithEmptyResult()
    {
        // test_constructor_empty_sequence: gather() is a future already resolved to [].
        static async Coroutine<(bool, int)> Main()
        {
            var g = Aio.Gather(Array.Empty<Coroutine<int>>());
            bool doneAtOnce = g.IsDone;
            var r = await g;
            return (doneAtOnce, r.Length);
        }

        Assert.Equal((true, 0), Virtual.Run(Main()));
    }

    [Fact]
    public void Gather_SameCoroutineTwice_WrappedOnceResultAtEachPosition()
    {
        // test_duplicate_coroutines → ['abc', 'abc', 'def', 'abc'].
        static async Coroutine<(string[], int)> Main()
        {
            int runs = 0;
            async Coroutine<string> Coro(string s)
            {
                runs++;
                await Aio.Yield();
                return s;
            }

            var c = Coro("abc");
            var d = Coro("def");
            var r = await Aio.Gather(c, c, d, c);
            return (r, runs);
        }

        var (results, runs) = Virtual.Run(Main());
        Assert.Equal(["abc", "abc", "def", "abc"], results);
        Assert.Equal(2, runs);
    }

    [Fact]
    public void Gather_SameTaskTwice_WatchedOnceResultAtEachPosition()
    {
        static async Coroutine<int[]> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 1));
            var b = Aio.CreateTask(Co.Return(2, 2));
            return await Aio.Gather(a, b, a);
        }

        Assert.Equal([1, 2, 1], Virtual.Run(Main()));
    }

    [Fact]
    public void Gather_TasksOfDifferentTypes_BoxedResultsInOrder()
    {
        static async Coroutine<object?[]> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 1));
            var b = Aio.CreateTask(Co.Return("two", 0.5));
            var c = Aio.CreateTask(Co.Sleep(0.1));
            return await Aio.Gather(a, b, c);
        }

        Assert.Equal(new object?[] { 1, "two", null }, Virtual.Run(Main()));
    }

    [Fact]
    public void Gather_FirstChildFails_PropagatesAtOnceOthersKeepRunning()
    {
        // test_one_exception: the outer future fails at the first error; other children are not cancelled.
        static async Coroutine<(Exception?, double, bool, int)> Main()
        {
            var slow = Aio.CreateTask(Co.Return(5, 3));
            Exception? caught = null;
            double failedAt = -1;
            try
            {
                await Aio.Gather(slow, Aio.CreateTask(Co.Return<int>(0, 1)), Aio.CreateTask(ThrowAfter(1.5)));
            }
            catch (TestException ex)
            {
                caught = ex;
                failedAt = Now;
            }
            bool slowStillRunning = !slow.IsDone;
            int slowResult = await slow;
            return (caught, failedAt, slowStillRunning, slowResult);
        }

        static async Coroutine<int> ThrowAfter(double seconds)
        {
            await Aio.Sleep(seconds);
            throw new TestException("first");
        }

        var (caught, failedAt, stillRunning, slowResult) = Virtual.Run(Main());
        Assert.Equal("first", caught!.Message);
        Assert.Equal(1.5, failedAt);
        Assert.True(stillRunning);
        Assert.Equal(5, slowResult);
    }

    [Fact]
    public void Gather_ChildCancelled_GatherFailsWithCancelledButIsNotCancelled()
    {
        // test_one_cancellation: outer gets CancelledError (child's message) as an exception, cancelled() is False.
        static async Coroutine<(bool, bool, string?, bool)> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 10));
            var b = Aio.CreateTask(Co.Return(2, 10));
            var g = Aio.Gather(a, b);
            await Aio.Sleep(1);
            b.Cancel("child msg");
            string? msg = null;
            try
            {
                await g;
            }
            catch (CancelledException ex)
            {
                msg = ex.CancelMessage;
            }
            return (g.IsDone, g.IsCancelled, msg, a.IsDone);
        }

        Assert.Equal((true, false, "child msg", false), Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_Gather_EveryChildCancelled()
    {
        // test_one_cancellation via the outer future: gather.cancel() cancels the children.
        static async Coroutine<(bool, bool, bool, bool)> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 10));
            var b = Aio.CreateTask(Co.Return(2, 10));
            var g = Aio.Gather(a, b);
            await Aio.Sleep(1);
            bool accepted = g.Cancel();
            bool raised = false;
            try
            {
                await g;
            }
            catch (CancelledException)
            {
                raised = true;
            }
            return (accepted, raised, a.IsCancelled, b.IsCancelled);
        }

        Assert.Equal((true, true, true, true), Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_TaskAwaitingGather_ChildrenCancelledAndTaskCancelled()
    {
        static async Coroutine<(bool, bool, bool)> Main()
        {
            AioTask<int> a = null!, b = null!;
            async Coroutine<int[]> Waiter()
            {
                a = Aio.CreateTask(Co.Return(1, 10));
                b = Aio.CreateTask(Co.Return(2, 10));
                return await Aio.Gather(a, b);
            }

            var w = Aio.CreateTask(Waiter());
            await Aio.Sleep(1);
            w.Cancel();
            try
            {
                await w;
            }
            catch (CancelledException)
            {
            }
            return (w.IsCancelled, a.IsCancelled, b.IsCancelled);
        }

        Assert.Equal((true, true, true), Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_GatherAllChildrenDone_ReturnsFalseResultStands()
    {
        // test_cancel_gather_1 (bpo-26923): once every child is done, cancel() is refused and the result stands.
        static async Coroutine<(bool?, bool, int[])> Main()
        {
            var fut = new Future<int>();
            async Coroutine<int> ChildCoro() => await fut;
            var gather = Aio.Gather(ChildCoro());
            await Aio.Yield();
            bool? cancelResult = null;
            fut.AddDoneCallback(_ => cancelResult = gather.Cancel());
            fut.SetResult(42);
            var r = await gather;
            return (cancelResult, gather.IsCancelled, r);
        }

        var (cancelResult, cancelled, r) = Virtual.Run(Main());
        Assert.False(cancelResult);
        Assert.False(cancelled);
        Assert.Equal([42], r);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("my message")]
    public void Cancel_TaskAwaitingGatherReturningExceptions_CancelledWithMessage(string? message)
    {
        // test_cancel_gather_2 (bpo-32684): even with return_exceptions, cancelling gives CancelledError(msg).
        static async Coroutine<(bool, string?)> Main(string? message)
        {
            async Coroutine Test()
            {
                double time = 0;
                while (true)
                {
                    time += 0.05;
                    await Aio.GatherReturningExceptions(Co.Return(0, 0.05));
                    if (time > 1)
                    {
                        return;
                    }
                }
            }

            var qwe = Aio.CreateTask(Test());
            await Aio.Sleep(0.2);
            qwe.Cancel(message);
            try
            {
                await qwe;
            }
            catch (CancelledException ex)
            {
                return (qwe.IsCancelled, ex.CancelMessage);
            }
            return (false, "not cancelled");
        }

        Assert.Equal((true, message), Virtual.Run(Main(message)));
    }

    [Fact]
    public void GatherReturningExceptions_FailedAndCancelledChildren_OutcomesInPlace()
    {
        // test_return_exceptions + a cancelled child stored as a CancelledError.
        static async Coroutine<Outcome<int>[]> Main()
        {
            var ok = Aio.CreateTask(Co.Return(1, 2));
            var bad = Aio.CreateTask(ThrowAfter(1));
            var cancelled = Aio.CreateTask(Co.Return(3, 10));
            var g = Aio.GatherReturningExceptions(ok, bad, cancelled);
            await Aio.Sleep(0.5);
            cancelled.Cancel("gone");
            return await g;
        }

        static async Coroutine<int> ThrowAfter(double s)
        {
            await Aio.Sleep(s);
            throw new TestException("bad");
        }

        var r = Virtual.Run(Main());
        Assert.Equal(3, r.Length);
        Assert.True(r[0].IsSuccess);
        Assert.Equal(1, r[0].Value);
        Assert.Equal("bad", Assert.IsType<TestException>(r[1].Exception).Message);
        Assert.Equal("gone", Assert.IsType<CancelledException>(r[2].Exception).CancelMessage);
    }

    [Fact]
    public void GatherReturningExceptions_Coroutines_AllRunEvenIfOneFails()
    {
        static async Coroutine<(string[], double)> Main()
        {
            var r = await Aio.GatherReturningExceptions(Co.Return("a", 2), Fail(), Co.Return("c", 1));
            return (r.Select(o => o.ToString()).ToArray(), Now);
        }

        static async Coroutine<string> Fail()
        {
            await Aio.Yield();
            throw new TestException("x");
        }

        var (outcomes, time) = Virtual.Run(Main());
        Assert.Equal(["a", "TestException: x", "c"], outcomes);
        Assert.Equal(2, time);
    }

    [Fact]
    public void Cancel_GatherChildIgnoresCancellation_GatherFailsWithCancelledAfterItEnds()
    {
        // The outer future fails with CancelledError only once the children finished (return_exceptions=True).
        static async Coroutine<(double, bool, bool)> Main()
        {
            var stubborn = Aio.CreateTask(Stubborn());
            var g = Aio.GatherReturningExceptions(stubborn);
            await Aio.Sleep(1);
            g.Cancel();
            bool raised = false;
            try
            {
                await g;
            }
            catch (CancelledException)
            {
                raised = true;
            }
            return (Now, raised, stubborn.Result == 9);
        }

        static async Coroutine<int> Stubborn()
        {
            try
            {
                await Aio.Sleep(10);
            }
            catch (CancelledException)
            {
                await Aio.Sleep(2);
            }
            return 9;
        }

        Assert.Equal((3.0, true, true), Virtual.Run(Main()));
    }
}
