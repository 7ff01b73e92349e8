namespace Kettle.Tests;

public class TaskTests
{
    private sealed class Flag
    {
        public bool Set;
    }

    private static async Coroutine<int> SetFlag(Flag f)
    {
        f.Set = true;
        await Aio.Yield();
        return 1;
    }

    [Fact]
    public void CreateTask_FirstStep_QueuedNotRunInline()
    {
        static async Coroutine<(bool AfterCreate, bool AfterYield, bool Pending)> Main()
        {
            var f = new Flag();
            var t = Aio.CreateTask(SetFlag(f));
            bool afterCreate = f.Set;
            bool pending = !t.IsDone;
            await Aio.Yield();
            bool afterYield = f.Set;
            await t;
            return (afterCreate, afterYield, pending);
        }

        var (afterCreate, afterYield, pending) = Virtual.Run(Main());

        Assert.False(afterCreate);
        Assert.True(pending);
        Assert.True(afterYield);
    }

    [Fact]
    public void CreateTask_FuncTask_FirstStepQueuedAndResultReturned()
    {
        static async Coroutine<(bool CalledAtCreate, int Result)> Main()
        {
            bool called = false;
            var t = Aio.CreateTask(async () =>
            {
                called = true;
                await Task.Yield();
                return 5;
            });
            bool calledAtCreate = called;
            int result = await t;
            return (calledAtCreate, result);
        }

        var (calledAtCreate, result) = Virtual.Run(Main());

        Assert.False(calledAtCreate);
        Assert.Equal(5, result);
    }

    [Fact]
    public void CreateTask_FuncThrowsSynchronously_TaskFaultsInsteadOfCreateTaskThrowing()
    {
        static async Coroutine<Exception?> Main()
        {
            var t = Aio.CreateTask((Func<Task<int>>)(() => throw new TestException("sync")));
            try
            {
                await t;
                return null;
            }
            catch (TestException ex)
            {
                Assert.True(t.IsFaulted);
                return ex;
            }
        }

        Assert.IsType<TestException>(Virtual.Run(Main()));
    }

    [Fact]
    public void TaskName_Default_IsTaskNWithIncreasingN()
    {
        static async Coroutine<(AioTask A, AioTask B)> Main()
        {
            var a = Aio.CreateTask(Co.Sleep(0));
            var b = Aio.CreateTask(Co.Sleep(0));
            await a;
            await b;
            return (a, b);
        }

        var (a, b) = Virtual.Run(Main());

        Assert.Equal($"Task-{a.Id}", a.Name);
        Assert.Equal($"Task-{b.Id}", b.Name);
        Assert.True(a.Id > 0);
        Assert.True(b.Id > a.Id);
    }

    [Fact]
    public void TaskName_GivenOrSet_IsUsed()
    {
        static async Coroutine<(string Given, string Renamed, string InToString)> Main()
        {
            var t = Aio.CreateTask(Co.Sleep(1), "worker");
            string given = t.Name;
            t.Name = "renamed";
            string text = t.ToString();
            Assert.Throws<ArgumentNullException>(() => t.Name = null!);
            await t;
            return (given, t.Name, text);
        }

        var (given, renamed, text) = Virtual.Run(Main());

        Assert.Equal("worker", given);
        Assert.Equal("renamed", renamed);
        Assert.Contains("renamed", text, StringComparison.Ordinal);
    }

    [Fact]
    public void AddDoneCallback_TaskFinishes_CallbackQueuedNotRunInline()
    {
        static async Coroutine Body(List<string> log)
        {
            await Aio.Yield();
            Aio.GetRunningLoop().CallSoon(() => log.Add("soon"));
            log.Add("body-end");
        }

        static async Coroutine<List<string>> Main()
        {
            var log = new List<string>();
            var t = Aio.CreateTask(Body(log));
            AioTask? seen = null;
            t.AddDoneCallback(x =>
            {
                seen = x;
                log.Add("callback");
            });
            await Aio.Sleep(1);
            Assert.Same(t, seen);
            return log;
        }

        Assert.Equal(["body-end", "soon", "callback"], Virtual.Run(Main()));
    }

    [Fact]
    public void AddDoneCallback_TaskAlreadyDone_CallbackQueuedNotRunInline()
    {
        static async Coroutine<(bool Inline, bool Later)> Main()
        {
            var t = Aio.CreateTask(Co.Return(1));
            await t;
            bool ran = false;
            t.AddDoneCallback(_ => ran = true);
            bool inline = ran;
            await Aio.Yield();
            return (inline, ran);
        }

        var (inline, later) = Virtual.Run(Main());

        Assert.False(inline);
        Assert.True(later);
    }

    [Fact]
    public void RemoveDoneCallback_RegisteredTwice_RemovesBothAndReturnsCount()
    {
        static async Coroutine<(int Removed, int RemovedAgain, int SingleRemoved, List<string> Log)> Main()
        {
            var log = new List<string>();
            Action<AioTask> a = _ => log.Add("a");
            Action<AioTask> b = _ => log.Add("b");
            var t = Aio.CreateTask(Co.Sleep(1));
            t.AddDoneCallback(a);
            t.AddDoneCallback(b);
            t.AddDoneCallback(a);
            int removed = t.RemoveDoneCallback(a);
            int removedAgain = t.RemoveDoneCallback(a);

            var u = Aio.CreateTask(Co.Sleep(1));
            u.AddDoneCallback(a);
            int singleRemoved = u.RemoveDoneCallback(a);

            await t;
            await u;
            await Aio.Yield();
            return (removed, removedAgain, singleRemoved, log);
        }

        var (removed, removedAgain, singleRemoved, log) = Virtual.Run(Main());

        Assert.Equal(2, removed);
        Assert.Equal(0, removedAgain);
        Assert.Equal(1, singleRemoved);
        Assert.Equal(["b"], log);
    }

    [Fact]
    public void Result_PendingTask_ThrowsInvalidOperation()
    {
        static async Coroutine<(Exception? Result, Exception? Exception)> Main()
        {
            var t = Aio.CreateTask(Co.Return(1, 5));
            var r = Record.Exception(() => t.Result);
            var e = Record.Exception(() => t.Exception);
            await t;
            return (r, e);
        }

        var (r, e) = Virtual.Run(Main());

        Assert.IsType<InvalidOperationException>(r);
        Assert.IsType<InvalidOperationException>(e);
    }

    [Fact]
    public void Result_FinishedTask_ReturnsValueAndExceptionIsNull()
    {
        static async Coroutine<AioTask<int>> Main()
        {
            var t = Aio.CreateTask(Co.Return(42, 1));
            await Aio.Sleep(2);
            return t;
        }

        var t = Virtual.Run(Main());

        Assert.True(t.IsDone);
        Assert.False(t.IsCancelled);
        Assert.False(t.IsFaulted);
        Assert.Equal(42, t.Result);
        Assert.Null(t.Exception);
    }

    [Fact]
    public void Result_FailedTask_ThrowsTheTasksException()
    {
        var boom = new TestException("boom");
        async Coroutine<AioTask<int>> Main()
        {
            var t = Aio.CreateTask(Fail());
            await Aio.Sleep(2);
            return t;
        }
        async Coroutine<int> Fail()
        {
            await Aio.Sleep(1);
            throw boom;
        }

        var t = Virtual.Run(Main());

        Assert.True(t.IsDone);
        Assert.True(t.IsFaulted);
        Assert.False(t.IsCancelled);
        Assert.Same(boom, Assert.Throws<TestException>(() => t.Result));
        Assert.Same(boom, t.Exception);
    }

    [Fact]
    public void Result_CancelledTask_ThrowsCancelled()
    {
        static async Coroutine<AioTask<int>> Main()
        {
            var t = Aio.CreateTask(Co.Return(1, 10));
            await Aio.Yield();
            t.Cancel("because");
            await Aio.Yield();
            await Aio.Yield();
            return t;
        }

        var t = Virtual.Run(Main());

        Assert.True(t.IsDone);
        Assert.True(t.IsCancelled);
        Assert.False(t.IsFaulted);
        Assert.Equal("because", Assert.Throws<CancelledException>(() => t.Result).CancelMessage);
        Assert.Throws<CancelledException>(() => t.Exception);
    }

    [Fact]
    public void Await_SameTaskTwice_GivesSameResultOrException()
    {
        var boom = new TestException("boom");
        async Coroutine<(int, int, Exception?, Exception?)> Main()
        {
            var ok = Aio.CreateTask(Co.Return(7, 1));
            var bad = Aio.CreateTask(Co.Throw(boom, 1));
            int r1 = await ok;
            int r2 = await ok;
            Exception? e1 = null, e2 = null;
            try
            {
                await bad;
            }
            catch (TestException ex)
            {
                e1 = ex;
            }
            try
            {
                await bad;
            }
            catch (TestException ex)
            {
                e2 = ex;
            }
            return (r1, r2, e1, e2);
        }

        var (r1, r2, e1, e2) = Virtual.Run(Main());

        Assert.Equal(7, r1);
        Assert.Equal(7, r2);
        Assert.Same(boom, e1);
        Assert.Same(boom, e2);
    }

    [Fact]
    public void Await_SeveralTasksAwaitOneTask_AllGetItsResult()
    {
        static async Coroutine<int> Waiter(AioTask<int> t) => await t * 10;

        static async Coroutine<int[]> Main()
        {
            var shared = Aio.CreateTask(Co.Return(4, 3));
            var w1 = Aio.CreateTask(Waiter(shared));
            var w2 = Aio.CreateTask(Waiter(shared));
            return [await w1, await w2, await shared];
        }

        Assert.Equal([40, 40, 4], Virtual.Run(Main()));
    }

    [Fact]
    public void Await_TaskAwaitsItself_Throws()
    {
        static async Coroutine<int> Body(Func<AioTask<int>> self)
        {
            await Aio.Yield();
            return await self();
        }

        static async Coroutine<Exception?> Main()
        {
            AioTask<int>? t = null;
            t = Aio.CreateTask(Body(() => t!));
            try
            {
                await t;
                return null;
            }
            catch (InvalidOperationException ex)
            {
                return ex;
            }
        }

        var ex = Virtual.Run(Main());

        Assert.NotNull(ex);
        Assert.Contains("itself", ex!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AllTasks_WhileTasksPending_ListsThemAndDropsFinished()
    {
        static async Coroutine<(int During, bool HasA, bool HasB, bool HasMain, int After)> Main()
        {
            var a = Aio.CreateTask(Co.Sleep(1));
            var b = Aio.CreateTask(Co.Sleep(2));
            var all = Aio.AllTasks();
            bool hasMain = all.Contains(Aio.CurrentTask!);
            int during = all.Count;
            bool hasA = all.Contains(a), hasB = all.Contains(b);
            await a;
            await b;
            var after = Aio.GetRunningLoop().AllTasks();
            return (during, hasA, hasB, hasMain, after.Count);
        }

        var (during, hasA, hasB, hasMain, after) = Virtual.Run(Main());

        Assert.Equal(3, during);
        Assert.True(hasA && hasB && hasMain);
        Assert.Equal(1, after);
    }

    [Fact]
    public void CurrentTask_InsideTaskAndInsideCallback_IsTaskThenNull()
    {
        static async Coroutine<(bool IsMain, bool IsChild, AioTask? InCallback, bool CallbackRan)> Main()
        {
            var main = Aio.CurrentTask;
            AioTask? inChild = null;
            var child = Aio.CreateTask(Capture());
            async Coroutine Capture()
            {
                await Aio.Yield();
                inChild = Aio.CurrentTask;
            }
            AioTask? inCallback = null;
            bool callbackRan = false;
            Aio.GetRunningLoop().CallSoon(() =>
            {
                inCallback = Aio.CurrentTask;
                callbackRan = true;
            });
            await child;
            return (main is not null && main.Name.StartsWith("Task-", StringComparison.Ordinal), ReferenceEquals(inChild, child), inCallback, callbackRan);
        }

        var (isMain, isChild, inCallback, callbackRan) = Virtual.Run(Main());

        Assert.True(isMain);
        Assert.True(isChild);
        Assert.True(callbackRan);
        Assert.Null(inCallback);
    }

    [Fact]
    public void CreateTask_VoidCoroutine_AwaitCompletes()
    {
        static async Coroutine<(bool Done, double Time)> Main()
        {
            var t = Aio.CreateTask(Co.Sleep(4));
            await t;
            return (t.IsDone, Aio.GetRunningLoop().Time);
        }

        Assert.Equal((true, 4.0), Virtual.Run(Main()));
    }
}
