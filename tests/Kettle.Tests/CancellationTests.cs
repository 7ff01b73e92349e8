namespace Kettle.Tests;

public class CancellationTests
{
    private sealed class Log
    {
        public readonly List<string> Lines = new();

        public void Add(string line) => Lines.Add(line);
    }

    [Fact]
    public void Cancel_TaskSleeping_CancelledExceptionWithMessageAtThatAwait()
    {
        static async Coroutine Worker(Log log)
        {
            try
            {
                await Aio.Sleep(10);
                log.Add("slept");
            }
            catch (CancelledException ex)
            {
                log.Add($"cancelled:{ex.CancelMessage}@{Aio.GetRunningLoop().Time}");
                throw;
            }
        }

        static async Coroutine<(Log Log, bool Accepted, string? Awaited, AioTask Task)> Main()
        {
            var log = new Log();
            var t = Aio.CreateTask(Worker(log));
            await Aio.Sleep(1);
            bool accepted = t.Cancel("stop");
            string? awaited = null;
            try
            {
                await t;
            }
            catch (CancelledException ex)
            {
                awaited = ex.CancelMessage;
            }
            return (log, accepted, awaited, t);
        }

        var (log, accepted, awaited, t) = Virtual.Run(Main());

        Assert.True(accepted);
        Assert.Equal(["cancelled:stop@1"], log.Lines);
        Assert.Equal("stop", awaited);
        Assert.True(t.IsCancelled);
    }

    [Fact]
    public void Cancel_WithoutMessage_CancelMessageIsNull()
    {
        static async Coroutine<string?> Main()
        {
            var t = Aio.CreateTask(Co.Sleep(10));
            await Aio.Yield();
            t.Cancel();
            try
            {
                await t;
                return "not cancelled";
            }
            catch (CancelledException ex)
            {
                return ex.CancelMessage;
            }
        }

        Assert.Null(Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_SleepingTask_ItsTimerDoesNotHoldTheLoop()
    {
        static async Coroutine<double> Main()
        {
            var t = Aio.CreateTask(Co.Sleep(3600));
            await Aio.Yield();
            t.Cancel();
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            return Aio.GetRunningLoop().Time;
        }

        Assert.Equal(0.0, Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_DoneTask_ReturnsFalseAndChangesNothing()
    {
        static async Coroutine<(bool Accepted, int Cancelling, int Result)> Main()
        {
            var t = Aio.CreateTask(Co.Return(3));
            await t;
            return (t.Cancel(), t.Cancelling(), t.Result);
        }

        Assert.Equal((false, 0, 3), Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_BeforeFirstStep_BodyNeverRuns()
    {
        static async Coroutine Body(Log log)
        {
            log.Add("ran");
            await Aio.Yield();
        }

        static async Coroutine<(Log Log, AioTask Task)> Main()
        {
            var log = new Log();
            var t = Aio.CreateTask(Body(log));
            t.Cancel("early");
            await Aio.Yield();
            await Aio.Yield();
            return (log, t);
        }

        var (log, t) = Virtual.Run(Main());

        Assert.Empty(log.Lines);
        Assert.True(t.IsCancelled);
        Assert.Equal("early", Assert.Throws<CancelledException>(() => t.Exception).CancelMessage);
    }

    [Fact]
    public void Cancel_Twice_CancellingCountsAndUncancelDecrements()
    {
        static async Coroutine<int[]> Main()
        {
            var t = Aio.CreateTask(Co.Sleep(10));
            await Aio.Yield();
            var counts = new List<int> { t.Cancelling() };
            t.Cancel();
            t.Cancel();
            counts.Add(t.Cancelling());
            counts.Add(t.Uncancel());
            counts.Add(t.Cancelling());
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            // Delivering the cancellation does not reset the count.
            counts.Add(t.Cancelling());
            counts.Add(t.Uncancel());
            counts.Add(t.Uncancel());
            return counts.ToArray();
        }

        Assert.Equal([0, 2, 1, 1, 1, 0, 0], Virtual.Run(Main()));
    }

    [Fact]
    public void Uncancel_ToZeroBeforeFirstStep_WithdrawsPendingCancel()
    {
        static async Coroutine<(AioTask<int> Task, int Cancelling)> Main()
        {
            var t = Aio.CreateTask(Co.Return(9, 1));
            t.Cancel();
            int left = t.Uncancel();
            await t;
            return (t, left);
        }

        var (t, left) = Virtual.Run(Main());

        Assert.Equal(0, left);
        Assert.False(t.IsCancelled);
        Assert.Equal(9, t.Result);
    }

    [Fact]
    public void Uncancel_ToZeroWhileTaskRuns_WithdrawsCancelAndRenewsToken()
    {
        static async Coroutine<(bool OldCancelled, bool NewCancelled, bool SameToken, bool SleptThrough)> Main()
        {
            var me = Aio.CurrentTask!;
            var before = me.CancellationToken;
            me.Cancel("self");
            bool oldCancelled = before.IsCancellationRequested;
            me.Uncancel();
            var after = me.CancellationToken;
            await Aio.Sleep(1); // the withdrawn request is not delivered here
            return (oldCancelled, after.IsCancellationRequested, before == after, true);
        }

        var (oldCancelled, newCancelled, sameToken, sleptThrough) = Virtual.Run(Main());

        Assert.True(oldCancelled);
        Assert.False(newCancelled);
        Assert.False(sameToken);
        Assert.True(sleptThrough);
    }

    [Fact]
    public void Uncancel_ToZeroWhileTaskQueuedAfterYield_WithdrawsPendingCancel()
    {
        // asyncio: a task that did sleep(0) has no future to cancel, so cancel() sets must_cancel,
        // and uncancel() down to 0 clears it (3.13+): the task resumes normally.
        static async Coroutine<string> Worker()
        {
            await Aio.Yield();
            return "resumed";
        }

        static async Coroutine<AioTask<string>> Main()
        {
            var t = Aio.CreateTask(Worker());
            await Aio.Yield(); // t has run its first step and is queued behind us
            t.Cancel();
            t.Uncancel();
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            return t;
        }

        var t = Virtual.Run(Main());

        Assert.False(t.IsCancelled);
        Assert.Equal("resumed", t.Result);
    }

    [Fact]
    public void Cancel_TaskCatchesAndReturnsValue_EndsWithValueNotCancelled()
    {
        static async Coroutine<int> Stubborn()
        {
            try
            {
                await Aio.Sleep(10);
                return 1;
            }
            catch (CancelledException)
            {
                await Aio.Sleep(1);
                return 42;
            }
        }

        static async Coroutine<(int Result, AioTask<int> Task, double Time)> Main()
        {
            var t = Aio.CreateTask(Stubborn());
            await Aio.Yield();
            t.Cancel();
            int r = await t;
            return (r, t, Aio.GetRunningLoop().Time);
        }

        var (result, t, time) = Virtual.Run(Main());

        Assert.Equal(42, result);
        Assert.False(t.IsCancelled);
        Assert.Equal(1, t.Cancelling());
        Assert.Equal(1.0, time);
    }

    [Fact]
    public void Cancel_TaskCatchesAndThrowsOther_EndsFaulted()
    {
        static async Coroutine Converter()
        {
            try
            {
                await Aio.Sleep(10);
            }
            catch (CancelledException ex)
            {
                throw new TestException("converted", ex);
            }
        }

        static async Coroutine<AioTask> Main()
        {
            var t = Aio.CreateTask(Converter());
            await Aio.Yield();
            t.Cancel();
            try
            {
                await t;
            }
            catch (TestException)
            {
            }
            return t;
        }

        var t = Virtual.Run(Main());

        Assert.True(t.IsFaulted);
        Assert.IsType<TestException>(t.Exception);
    }

    [Fact]
    public void Cancel_ItselfThenReturnsWithoutAwait_EndsCancelled()
    {
        static async Coroutine<int> SelfCancel()
        {
            await Aio.Yield();
            Aio.CurrentTask!.Cancel("self");
            return 5;
        }

        static async Coroutine<AioTask<int>> Main()
        {
            var t = Aio.CreateTask(SelfCancel());
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            return t;
        }

        var t = Virtual.Run(Main());

        Assert.True(t.IsCancelled);
        Assert.Equal("self", Assert.Throws<CancelledException>(() => t.Result).CancelMessage);
    }

    [Fact]
    public void Cancel_TaskRaisesCancelledWithoutCancelCall_EndsCancelled()
    {
        static async Coroutine Raiser()
        {
            await Aio.Yield();
            throw new CancelledException("by hand");
        }

        static async Coroutine<AioTask> Main()
        {
            var t = Aio.CreateTask(Raiser());
            await Aio.Sleep(1);
            return t;
        }

        var t = Virtual.Run(Main());

        Assert.True(t.IsCancelled);
        Assert.Equal(0, t.Cancelling());
    }

    [Fact]
    public void Cancel_RequestedWhileTaskRuns_DeliveredAtItsNextAwait()
    {
        static async Coroutine Worker(Log log)
        {
            await Aio.Yield();
            Aio.CurrentTask!.Cancel("mid-step");
            log.Add("still running");
            try
            {
                await Aio.Sleep(5);
                log.Add("slept");
            }
            catch (CancelledException ex)
            {
                log.Add($"{ex.CancelMessage}@{Aio.GetRunningLoop().Time}");
                throw;
            }
        }

        static async Coroutine<(Log, AioTask)> Main()
        {
            var log = new Log();
            var t = Aio.CreateTask(Worker(log));
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            return (log, t);
        }

        var (log, t) = Virtual.Run(Main());

        Assert.Equal(["still running", "mid-step@0"], log.Lines);
        Assert.True(t.IsCancelled);
    }

    [Fact]
    public void Cancel_WhileTaskInForeignAwait_DeliveredAtItsNextKettleAwaitAtOnce()
    {
        static async Coroutine Worker(Log log, Task<int> foreign)
        {
            int v = await foreign; // not cancellable: completes normally
            log.Add($"foreign:{v}");
            try
            {
                await Aio.Sleep(5);
                log.Add("slept");
            }
            catch (CancelledException ex)
            {
                log.Add($"{ex.CancelMessage}@{Aio.GetRunningLoop().Time}");
                throw;
            }
        }

        static async Coroutine<(Log, AioTask)> Main()
        {
            var log = new Log();
            var tcs = new TaskCompletionSource<int>();
            var t = Aio.CreateTask(Worker(log, tcs.Task));
            await Aio.Yield(); // t now waits on the foreign task
            t.Cancel("late");
            tcs.SetResult(1);
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            return (log, t);
        }

        Log log = null!;
        AioTask t = null!;
        HangGuard.Run(() => (log, t) = Virtual.Run(Main()));

        // asyncio's must_cancel: the next step that reaches an await throws at once, it does not sleep first.
        Assert.Equal(["foreign:1", "late@0"], log.Lines);
        Assert.True(t.IsCancelled);
    }

    private static async Coroutine ForeignThenSleep(Log log, Task<int> foreign)
    {
        int v = await foreign.ConfigureAwait(false); // resumes through the loop's queue, not inline
        log.Add($"foreign:{v}:{Aio.CurrentTask is not null}");
        try
        {
            await Aio.Sleep(5);
            log.Add("slept");
        }
        catch (CancelledException ex)
        {
            log.Add($"{ex.CancelMessage}@{Aio.GetRunningLoop().Time}");
            throw;
        }
    }

    [Fact]
    public void Cancel_WhileTaskInConfigureAwaitFalseAwait_DeliveredAtItsNextKettleAwaitAtOnce()
    {
        static async Coroutine<(Log, AioTask)> Main()
        {
            var log = new Log();
            var tcs = new TaskCompletionSource<int>();
            var t = Aio.CreateTask(ForeignThenSleep(log, tcs.Task));
            await Aio.Yield();
            t.Cancel("late");
            tcs.SetResult(2);
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            return (log, t);
        }

        Log log = null!;
        AioTask t = null!;
        HangGuard.Run(() => (log, t) = Virtual.Run(Main()));

        Assert.Equal(["foreign:2:True", "late@0"], log.Lines);
        Assert.True(t.IsCancelled);
    }

    [Fact]
    public void Cancel_WhileTaskInForeignAwaitThenItReturnsWithoutKettleAwait_EndsCancelled()
    {
        static async Coroutine<int> Worker(Task<int> foreign) => await foreign;

        static async Coroutine<AioTask<int>> Main()
        {
            var tcs = new TaskCompletionSource<int>();
            var t = Aio.CreateTask(Worker(tcs.Task));
            await Aio.Yield();
            t.Cancel();
            tcs.SetResult(3);
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            return t;
        }

        AioTask<int> t = null!;
        HangGuard.Run(() => t = Virtual.Run(Main()));

        // As test_cancel_at_end: the request was never delivered, and the coroutine returned in that step.
        Assert.True(t.IsCancelled);
    }

    [Fact]
    public void Cancel_AfterSleepTimerFiredButBeforeTaskResumed_DeliveredOnceAtThatSleep()
    {
        // A and B sleep until the same moment; A runs first in that iteration and cancels B, whose
        // timer has fired but which has not resumed yet. asyncio: B's sleep future is done, so
        // must_cancel is set and CancelledError is thrown at B's sleep, once.
        static async Coroutine Victim(Log log)
        {
            try
            {
                await Aio.Sleep(1);
                log.Add("B slept");
            }
            catch (CancelledException)
            {
                log.Add($"B cancelled@{Aio.GetRunningLoop().Time}");
            }
            await Aio.Sleep(5);
            log.Add($"B cleanup done@{Aio.GetRunningLoop().Time}");
        }

        static async Coroutine Killer(Log log, Func<AioTask> victim)
        {
            await Aio.Sleep(1);
            log.Add("A cancels B");
            victim().Cancel();
        }

        static async Coroutine<Log> Main()
        {
            var log = new Log();
            AioTask? b = null;
            var a = Aio.CreateTask(Killer(log, () => b!));
            b = Aio.CreateTask(Victim(log));
            await a;
            await b;
            return log;
        }

        Assert.Equal(["A cancels B", "B cancelled@1", "B cleanup done@6"], Virtual.Run(Main()).Lines);
    }

    [Fact]
    public void Cancel_TaskAwaitingOtherTask_CancelsInnerToo()
    {
        static async Coroutine<int> Outer(AioTask<int> inner) => await inner;

        static async Coroutine<(AioTask Outer, AioTask Inner, string? Message)> Main()
        {
            var inner = Aio.CreateTask(Co.Return(1, 100));
            var outer = Aio.CreateTask(Outer(inner));
            await Aio.Yield();
            outer.Cancel("cascade");
            string? message = null;
            try
            {
                await outer;
            }
            catch (CancelledException ex)
            {
                message = ex.CancelMessage;
            }
            return (outer, inner, message);
        }

        var (outer, inner, message) = Virtual.Run(Main());

        Assert.True(outer.IsCancelled);
        Assert.True(inner.IsCancelled);
        Assert.Equal("cascade", message);
    }

    [Fact]
    public void Cancel_TaskAwaitingCoroutineThatSleeps_CancelledAtTheInnerSleep()
    {
        static async Coroutine<string> Inner()
        {
            try
            {
                await Aio.Sleep(10);
                return "slept";
            }
            catch (CancelledException)
            {
                return "inner caught";
            }
        }

        static async Coroutine<string> Outer() => await Inner() + "+outer";

        static async Coroutine<string> Main()
        {
            var t = Aio.CreateTask(Outer());
            await Aio.Yield();
            t.Cancel();
            return await t;
        }

        Assert.Equal("inner caught+outer", Virtual.Run(Main()));
    }

    [Fact]
    public void Cancel_TaskWaitingOnForeignTaskWithToken_TokenCancelledAndTaskEndsCancelled()
    {
        static async Coroutine Worker()
        {
            await Task.Delay(Timeout.Infinite, Aio.CurrentTask!.CancellationToken);
        }

        static async Coroutine<(AioTask Task, bool TokenCancelled)> Main()
        {
            var t = Aio.CreateTask(Worker());
            await Aio.Yield();
            var token = t.CancellationToken;
            t.Cancel();
            bool tokenCancelled = token.IsCancellationRequested;
            try
            {
                await t;
            }
            catch (OperationCanceledException)
            {
            }
            return (t, tokenCancelled);
        }

        AioTask t = null!;
        bool tokenCancelled = false;
        HangGuard.Run(() => (t, tokenCancelled) = Virtual.Run(Main()));

        Assert.True(tokenCancelled);
        Assert.True(t.IsCancelled);
    }

    [Fact]
    public void Cancel_FuncTaskWaitingOnDelayWithItsToken_EndsCancelled()
    {
        static async Coroutine<AioTask> Main()
        {
            var t = Aio.CreateTask(token => Task.Delay(Timeout.Infinite, token));
            await Aio.Yield();
            t.Cancel();
            try
            {
                await t;
            }
            catch (OperationCanceledException)
            {
            }
            return t;
        }

        AioTask t = null!;
        HangGuard.Run(() => t = Virtual.Run(Main()));

        Assert.True(t.IsCancelled);
    }

    [Fact]
    public void Cancel_TaskWithAwaitingFinally_CleanupRunsAfterCancellation()
    {
        static async Coroutine Worker(Log log)
        {
            try
            {
                await Aio.Sleep(100);
            }
            finally
            {
                log.Add($"cleanup start@{Aio.GetRunningLoop().Time}");
                await Aio.Sleep(2);
                log.Add($"cleanup end@{Aio.GetRunningLoop().Time}");
            }
        }

        static async Coroutine<(Log, AioTask)> Main()
        {
            var log = new Log();
            var t = Aio.CreateTask(Worker(log));
            await Aio.Sleep(1);
            t.Cancel();
            try
            {
                await t;
            }
            catch (CancelledException)
            {
                log.Add($"main saw cancel@{Aio.GetRunningLoop().Time}");
            }
            return (log, t);
        }

        var (log, t) = Virtual.Run(Main());

        Assert.Equal(["cleanup start@1", "cleanup end@3", "main saw cancel@3"], log.Lines);
        Assert.True(t.IsCancelled);
    }

    [Fact]
    public void CancellationToken_ReadAfterCancel_IsAlreadyCancelled()
    {
        static async Coroutine<bool> Main()
        {
            var t = Aio.CreateTask(Co.Sleep(10));
            await Aio.Yield();
            t.Cancel();
            bool cancelled = t.CancellationToken.IsCancellationRequested;
            try
            {
                await t;
            }
            catch (CancelledException)
            {
            }
            return cancelled;
        }

        Assert.True(Virtual.Run(Main()));
    }

    [Fact]
    public void CancelledException_IsOperationCanceledException()
    {
        var ex = new CancelledException("m");

        Assert.IsAssignableFrom<OperationCanceledException>(ex);
        Assert.Equal("m", ex.CancelMessage);
        Assert.Null(new CancelledException().CancelMessage);
    }

    [Fact]
    public void Cancel_DeliveredThroughTokenToForeignAwait_IsNotThrownAgainAtCleanupAwait()
    {
        var log = new List<string>();
        async Coroutine Worker()
        {
            try
            {
                await Task.Delay(Timeout.Infinite, Aio.CurrentTask!.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                log.Add("token");
                throw;
            }
            finally
            {
                await Aio.Sleep(2);
                log.Add("cleanup done");
            }
        }

        async Coroutine Main()
        {
            var t = Aio.CreateTask(Worker());
            await Aio.Sleep(1);
            t.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await t);
            Assert.True(t.IsCancelled);
        }

        Aio.Run(Main(), Virtual.Options());
        Assert.Equal(["token", "cleanup done"], log);
    }

    [Fact]
    public void Cancel_ForeignAwaitIgnoringToken_IsDeliveredAtNextKettleAwait()
    {
        var log = new List<string>();
        async Coroutine Worker()
        {
            await Task.Delay(20); // ignores the token
            log.Add("foreign finished");
            try
            {
                await Aio.Sleep(3600);
                log.Add("slept");
            }
            catch (CancelledException)
            {
                log.Add("cancelled at sleep");
                throw;
            }
        }

        async Coroutine Main()
        {
            var t = Aio.CreateTask(Worker());
            await Aio.Yield();
            t.Cancel();
            await Assert.ThrowsAsync<CancelledException>(async () => await t);
        }

        Aio.Run(Main(), Virtual.Options());
        Assert.Equal(["foreign finished", "cancelled at sleep"], log);
    }
}
