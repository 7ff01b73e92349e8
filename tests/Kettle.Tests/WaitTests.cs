namespace Kettle.Tests;

/// <summary>Aio.Wait, mirroring test_tasks.py test_wait_* (SEMANTICS.md §7).</summary>
public class WaitTests
{
    private static double Now => Aio.GetRunningLoop().Time;

    private static async Coroutine<int> FailAfter(double seconds)
    {
        await Aio.Sleep(seconds);
        throw new TestException("fail");
    }

    [Fact]
    public void Wait_AllCompleted_AllDoneNonePending()
    {
        // test_wait.
        static async Coroutine<(int, int, double)> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 0.1));
            var b = Aio.CreateTask(Co.Return(2, 0.15));
            var (done, pending) = await Aio.Wait([b, a]);
            return (done.Count, pending.Count, Now);
        }

        Assert.Equal((2, 0, 0.15), Virtual.Run(Main()));
    }

    [Fact]
    public void Wait_FirstCompleted_ReturnsAfterFirstOthersNotCancelled()
    {
        // test_wait_first_completed.
        static async Coroutine<(bool, bool, bool, double)> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 10));
            var b = Aio.CreateTask(Co.Return(2, 0.1));
            var (done, pending) = await Aio.Wait([b, a], returnWhen: ReturnWhen.FirstCompleted);
            bool shape = done.SetEquals([b]) && pending.SetEquals([a]);
            bool aRunning = !a.IsDone;
            await a; // still finishes normally
            return (shape, aRunning, a.IsCancelled, Now);
        }

        Assert.Equal((true, true, false, 10.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Wait_FirstException_ReturnsAtFirstFailure()
    {
        // test_wait_first_exception.
        static async Coroutine<(bool, double)> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 10));
            var b = Aio.CreateTask(FailAfter(1));
            var (done, pending) = await Aio.Wait([b, a], returnWhen: ReturnWhen.FirstException);
            bool shape = done.SetEquals([b]) && pending.SetEquals([a]);
            a.Cancel();
            _ = b.Exception;
            return (shape, Now);
        }

        Assert.Equal((true, 1.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Wait_FirstExceptionCancelledChild_DoesNotCount()
    {
        // FIRST_EXCEPTION returns at the first child that raised; a cancelled child is not one.
        static async Coroutine<(int, int, double)> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 2));
            var b = Aio.CreateTask(Co.Return(2, 10));
            Aio.GetRunningLoop().CallLater(1, () => b.Cancel());
            var (done, pending) = await Aio.Wait([a, b], returnWhen: ReturnWhen.FirstException);
            return (done.Count, pending.Count, Now);
        }

        Assert.Equal((2, 0, 2.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Wait_ChildFails_NeverRaises()
    {
        // test_wait_with_exception: ALL_COMPLETED with a failed child returns normally.
        static async Coroutine<(int, bool)> Main()
        {
            var a = Aio.CreateTask(FailAfter(0.1));
            var b = Aio.CreateTask(Co.Return(2, 0.15));
            var (done, _) = await Aio.Wait([a, b]);
            return (done.Count, a.IsFaulted && a.Exception is TestException);
        }

        Assert.Equal((2, true), Virtual.Run(Main()));
    }

    [Fact]
    public void Wait_Timeout_ReturnsPendingSetWithoutCancelling()
    {
        // test_wait_with_timeout.
        static async Coroutine<(bool, double, bool, int)> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 0.1));
            var b = Aio.CreateTask(Co.Return(2, 0.15));
            var (done, pending) = await Aio.Wait([a, b], timeout: 0.11);
            bool shape = done.SetEquals([a]) && pending.SetEquals([b]);
            double at = Now;
            bool bRunning = !b.IsDone;
            return (shape, at, bRunning, await b);
        }

        var (shape, at, running, bResult) = Virtual.Run(Main());
        Assert.True(shape);
        Assert.Equal(0.11, at, 9);
        Assert.True(running);
        Assert.Equal(2, bResult);
    }

    [Fact]
    public void Wait_DuplicateTasks_Collapse()
    {
        static async Coroutine<int> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 0.1));
            var (done, _) = await Aio.Wait([a, a, a]);
            return done.Count;
        }

        Assert.Equal(1, Virtual.Run(Main()));
    }

    [Fact]
    public void Wait_AlreadyDoneTasks_ReturnsWithoutWaitingForever()
    {
        static async Coroutine<(int, double)> Main()
        {
            var a = new Future<int>();
            a.SetResult(1);
            var (done, _) = await Aio.Wait([a], returnWhen: ReturnWhen.FirstCompleted);
            return (done.Count, Now);
        }

        Assert.Equal((1, 0.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Wait_EmptyInput_ArgumentException()
    {
        // test_wait_errors: ValueError "Set of Tasks/Futures is empty."
        static async Coroutine<string> Main()
        {
            await Aio.Yield();
            var ex = Assert.Throws<ArgumentException>(() => Aio.Wait(Array.Empty<AioTask>()));
            return ex.Message;
        }

        Assert.StartsWith("Set of Tasks/Futures is empty.", Virtual.Run(Main()), StringComparison.Ordinal);
    }

    [Fact]
    public void Wait_InvalidReturnWhen_ArgumentOutOfRangeException()
    {
        // test_wait_errors: ValueError "Invalid return_when value".
        static async Coroutine<bool> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 0.1));
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Aio.Wait([a], returnWhen: (ReturnWhen)42));
            await a;
            return ex.Message.Contains("Invalid return_when value", StringComparison.Ordinal);
        }

        Assert.True(Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_TaskInWait_WaitRaisesChildrenNotCancelled()
    {
        static async Coroutine<(bool, bool, int)> Main()
        {
            var a = Aio.CreateTask(Co.Return(1, 5));
            var waiter = Aio.CreateTask(Aio.Wait([a]));
            await Aio.Sleep(1);
            waiter.Cancel();
            bool raised = false;
            try
            {
                await waiter;
            }
            catch (CancelledException)
            {
                raised = true;
            }
            return (raised, a.IsCancelled, await a);
        }

        Assert.Equal((true, false, 1), Virtual.Run(Main()));
    }

    [Fact]
    public void Wait_FirstException_SuccessesBeforeTheFailureDoNotEndIt()
    {
        // The tasks' callbacks run one by one as they finish: successes before the first failure only count down;
        // the failure ends the wait, and a failure already done when the wait starts ends it at once.
        static async Coroutine<(int, int, double, int, int, double)> Main()
        {
            var ok = Aio.CreateTask(Co.Return(1, 1));
            var fail = Aio.CreateTask(FailAfter(2));
            var slow = Aio.CreateTask(Co.Return(3, 10));
            var (done, pending) = await Aio.Wait([ok, fail, slow], returnWhen: ReturnWhen.FirstException);
            var firstAt = Now;
            var later = Aio.CreateTask(Co.Return(4, 1));
            var (done2, pending2) = await Aio.Wait([later, ok, fail, slow], returnWhen: ReturnWhen.FirstException);
            var secondAt = Now;
            _ = fail.Exception;
            await Aio.Wait([later, slow]);
            return (done.Count, pending.Count, firstAt, done2.Count, pending2.Count, secondAt);
        }

        Assert.Equal((2, 1, 2.0, 2, 2, 2.0), Virtual.Run(Main()));
    }
}
