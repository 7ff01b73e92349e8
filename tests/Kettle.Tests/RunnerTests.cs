namespace Kettle.Tests;

public class RunnerTests
{
    private static readonly AsyncLocal<string?> Value = new();

    private sealed class Log
    {
        public readonly List<string> Lines = new();
    }

    [Fact]
    public void Run_CoroutineReturnsValue_ReturnsIt()
    {
        Assert.Equal(42, Virtual.Run(Co.Return(42, 10)));
    }

    [Fact]
    public void Run_VoidCoroutineAndPlainAsyncMethods_RunToCompletion()
    {
        bool ran = false;
        async Coroutine Main()
        {
            await Aio.Sleep(1);
            ran = true;
        }

        Virtual.Run(Main());
        Assert.True(ran);

        Assert.Equal(7, Aio.Run(async () =>
        {
            await Aio.Sleep(1);
            await Task.Yield();
            return 7;
        }, Virtual.Options()));

        bool plainRan = false;
        Aio.Run(async () =>
        {
            await Task.Yield();
            plainRan = true;
        }, Virtual.Options());
        Assert.True(plainRan);
    }

    [Fact]
    public void Run_MainThrows_RethrowsOriginalException()
    {
        var boom = new TestException("boom");

        var thrown = Assert.Throws<TestException>(() => Virtual.Run(Co.Throw(boom, 1)));

        Assert.Same(boom, thrown);
    }

    [Fact]
    public void Run_InsideRunningLoop_ThrowsSayingWhatToDoInstead()
    {
        static async Coroutine<Exception?> Main()
        {
            await Aio.Yield();
            Exception? aioRun = Record.Exception(() => Aio.Run(async () => await Task.Yield(), Virtual.Options()));
            using var runner = new Runner(Virtual.Options());
            Exception? runnerRun = Record.Exception(() => runner.Run(async () => await Task.Yield()));
            Assert.IsType<InvalidOperationException>(runnerRun);
            return aioRun;
        }

        var ex = Assert.IsType<InvalidOperationException>(Virtual.Run(Main()));
        Assert.Contains("running event loop", ex.Message, StringComparison.Ordinal);
        Assert.Contains("await", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Aio.CreateTask", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_MainReturnsWithTasksLeft_LeftoversCancelledAndTheirFinallyRan()
    {
        static async Coroutine Leftover(Log log)
        {
            try
            {
                await Aio.Sleep(3600);
                log.Lines.Add("slept");
            }
            catch (CancelledException)
            {
                log.Lines.Add("cancelled");
                throw;
            }
            finally
            {
                await Aio.Sleep(1);
                log.Lines.Add($"finally@{Aio.GetRunningLoop().Time}");
            }
        }

        static async Coroutine<(int, AioTask, Log)> Main()
        {
            var log = new Log();
            var t = Aio.CreateTask(Leftover(log));
            await Aio.Sleep(2);
            return (1, t, log);
        }

        var (result, t, log) = Virtual.Run(Main());

        Assert.Equal(1, result);
        Assert.True(t.IsCancelled);
        Assert.Equal(["cancelled", "finally@3"], log.Lines);
    }

    [Fact]
    public void Dispose_LeftoverFailsDuringShutdown_ReportedToExceptionHandler()
    {
        static async Coroutine FailsOnCancel()
        {
            try
            {
                await Aio.Sleep(3600);
            }
            catch (CancelledException)
            {
                throw new TestException("cleanup failed");
            }
        }

        var reports = new ReportCollector();
        AioTask? leftover = null;
        async Coroutine Main()
        {
            leftover = Aio.CreateTask(FailsOnCancel(), "fragile");
            await Aio.Yield();
        }

        using (var runner = new Runner(Virtual.Options()))
        {
            runner.Loop.SetExceptionHandler(reports.Handle);
            runner.Run(Main());
        }

        var report = Assert.Single(reports.Items);
        Assert.Equal("unhandled exception during Kettle shutdown", report.Message);
        Assert.IsType<TestException>(report.Exception);
        Assert.Same(leftover, report.Task);
        Assert.True(leftover!.IsFaulted);
    }

    [Fact]
    public void Runner_SeveralRuns_UseOneLoop()
    {
        static async Coroutine<EventLoop> CurrentLoop()
        {
            await Aio.Yield();
            return Aio.GetRunningLoop();
        }

        using var runner = new Runner(Virtual.Options());
        var first = runner.Run(CurrentLoop());
        var second = runner.Run(CurrentLoop());

        Assert.Same(first, second);
        Assert.Same(runner.Loop, first);
        Assert.False(first.IsClosed);
    }

    [Fact]
    public void Runner_TimeAdvancesAcrossRuns_OnSameVirtualClock()
    {
        using var runner = new Runner(Virtual.Options());
        runner.Run(Co.Sleep(5));
        runner.Run(Co.Sleep(5));

        Assert.Equal(10.0, runner.Loop.Time);
    }

    [Fact]
    public void Runner_AsyncLocalSetInOneRun_VisibleInNextRun()
    {
        static async Coroutine Set()
        {
            await Aio.Yield();
            Value.Value = "from first run";
        }

        static async Coroutine<string?> Get()
        {
            await Aio.Yield();
            return Value.Value;
        }

        using var runner = new Runner(Virtual.Options());
        runner.Run(Set());
        var seen = runner.Run(Get());

        Assert.Equal("from first run", seen);
        Assert.Null(Value.Value); // the caller's own context is untouched
    }

    [Fact]
    public void AioRun_AsyncLocalSetInOneRun_NotVisibleInNextRun()
    {
        static async Coroutine Set()
        {
            await Aio.Yield();
            Value.Value = "set";
        }

        static async Coroutine<string?> Get()
        {
            await Aio.Yield();
            return Value.Value;
        }

        Virtual.Run(Set());

        Assert.Null(Virtual.Run(Get()));
    }

    [Fact]
    public void Runner_AfterDispose_Throws()
    {
        var runner = new Runner(Virtual.Options());
        runner.Run(Co.Sleep(1));
        runner.Dispose();
        runner.Dispose();

        var ex = Assert.Throws<InvalidOperationException>(() => runner.Run(() => Task.CompletedTask));
        Assert.Contains("Runner is closed", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => runner.Loop);
    }

    [Fact]
    public void Runner_Dispose_ClosesItsLoop()
    {
        var runner = new Runner(Virtual.Options());
        var loop = runner.Loop;
        runner.Dispose();

        Assert.True(loop.IsClosed);
    }

    [Fact]
    public void Interrupt_FromTimer_MainCleanupRunsAndRunThrowsKeyboardInterrupt()
    {
        var log = new Log();
        using var runner = new Runner(Virtual.Options());
        async Coroutine Main()
        {
            Aio.GetRunningLoop().CallLater(5, runner.Interrupt);
            try
            {
                await Aio.Sleep(3600);
                log.Lines.Add("slept");
            }
            finally
            {
                await Aio.Sleep(1);
                log.Lines.Add($"cleanup@{Aio.GetRunningLoop().Time}");
            }
        }

        var ex = Assert.Throws<KeyboardInterruptException>(() => runner.Run(Main()));

        Assert.IsType<CancelledException>(ex.InnerException);
        Assert.Equal(["cleanup@6"], log.Lines);
    }

    [Fact]
    public void Interrupt_FromOtherThread_CancelsMainWaitingOnForeignTask()
    {
        using var runner = new Runner(Virtual.Options());
        bool cleaned = false;
        async Coroutine Main()
        {
            new Thread(runner.Interrupt).Start();
            try
            {
                await Task.Delay(Timeout.Infinite, Aio.CurrentTask!.CancellationToken);
            }
            finally
            {
                // The token's OperationCanceledException was the delivery: cleanup may await (asyncio delivers once).
                await Aio.Yield();
                await Aio.Sleep(1);
                cleaned = true;
            }
        }

        Exception? error = null;
        HangGuard.Run(() => error = Record.Exception(() => runner.Run(Main())));

        Assert.IsType<KeyboardInterruptException>(error);
        Assert.True(cleaned);
    }

    [Fact]
    public void Interrupt_MainSwallowsCancellation_RunReturnsItsValue()
    {
        using var runner = new Runner(Virtual.Options());
        async Coroutine<int> Main()
        {
            Aio.GetRunningLoop().CallLater(1, runner.Interrupt);
            try
            {
                await Aio.Sleep(3600);
                return 0;
            }
            catch (CancelledException)
            {
                return 42;
            }
        }

        Assert.Equal(42, runner.Run(Main()));
    }

    [Fact]
    public void Interrupt_AfterInterruptedRun_NextRunWorks()
    {
        using var runner = new Runner(Virtual.Options());
        async Coroutine Main()
        {
            Aio.GetRunningLoop().CallLater(1, runner.Interrupt);
            await Aio.Sleep(3600);
        }

        Assert.Throws<KeyboardInterruptException>(() => runner.Run(Main()));
        Assert.Equal(5, runner.Run(Co.Return(5, 1)));
    }
}
