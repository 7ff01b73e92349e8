using System.Runtime.CompilerServices;

namespace Kettle.Tests;

public class ReportingTests
{
    private static async Coroutine FailSoon(string message)
    {
        await Aio.Sleep(1);
        throw new TestException(message);
    }

    private static async Coroutine NeverAwaitedCoroutine() => await Aio.Yield();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void StartAndDropFailingTask(string message) => _ = Aio.CreateTask(FailSoon(message));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MakeAndDropCoroutine() => _ = NeverAwaitedCoroutine();

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
    public void FailedTask_NeverAwaited_ReportedAsNeverRetrievedWhenRunnerDisposed()
    {
        static async Coroutine Main()
        {
            StartAndDropFailingTask("unobserved-1");
            await Aio.Sleep(2);
        }

        var reports = RunWithRunner(Main);

        var report = Assert.Single(reports.Matching("never retrieved"));
        var ex = Assert.IsType<TestException>(report.Exception);
        Assert.Equal("unobserved-1", ex.Message);
        Assert.NotNull(report.Task);
        Assert.True(report.Task!.IsFaulted);
    }

    [Fact]
    public void FailedTask_Awaited_NotReported()
    {
        static async Coroutine Main()
        {
            var t = Aio.CreateTask(FailSoon("observed"));
            try
            {
                await t;
            }
            catch (TestException)
            {
            }
        }

        var reports = RunWithRunner(Main);

        Assert.Empty(reports.Items);
    }

    [Fact]
    public void FailedTask_ExceptionPropertyRead_NotReported()
    {
        static async Coroutine Main()
        {
            var t = Aio.CreateTask(FailSoon("read"));
            await Aio.Sleep(2);
            Assert.IsType<TestException>(t.Exception);
        }

        Assert.Empty(RunWithRunner(Main).Items);
    }

    [Fact]
    public void FailedTask_CancelCalledAfterItFailed_NotReported()
    {
        static async Coroutine Main()
        {
            var t = Aio.CreateTask(FailSoon("cancel clears it"));
            await Aio.Sleep(2);
            Assert.False(t.Cancel());
        }

        Assert.Empty(RunWithRunner(Main).Items);
    }

    [Fact]
    public void SucceededTask_ResultNeverRead_NotReported()
    {
        static async Coroutine Main()
        {
            _ = Aio.CreateTask(Co.Return(1));
            await Aio.Sleep(1);
        }

        Assert.Empty(RunWithRunner(Main).Items);
    }

    [Fact]
    public void Coroutine_NeverAwaited_ReportedWhenRunnerDisposed()
    {
        static async Coroutine Main()
        {
            MakeAndDropCoroutine();
            await Aio.Yield();
        }

        var reports = RunWithRunner(Main);

        var report = Assert.Single(reports.Matching("was never awaited"));
        Assert.Contains("NeverAwaitedCoroutine", report.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Coroutine_AwaitedOrScheduled_NotReported()
    {
        static async Coroutine Main()
        {
            var a = NeverAwaitedCoroutine();
            var b = NeverAwaitedCoroutine();
            await Aio.Yield(); // both outlive an iteration before being used
            await a;
            await Aio.CreateTask(b);
        }

        Assert.Empty(RunWithRunner(Main).Matching("never awaited"));
    }

    [Fact]
    public void PendingTask_LoopClosed_ReportedAsDestroyedWhilePending()
    {
        var reports = new ReportCollector();
        var loop = Virtual.NewLoop();
        loop.SetExceptionHandler(reports.Handle);
        var t = loop.CreateTask(Co.Sleep(3600), "stuck");
        loop.CallSoon(loop.Stop);
        loop.RunForever();

        loop.Close();

        var report = Assert.Single(reports.Items);
        Assert.StartsWith("Task was destroyed but it is pending!", report.Message, StringComparison.Ordinal);
        Assert.Contains("stuck", report.Message, StringComparison.Ordinal);
        Assert.Same(t, report.Task);
    }
}
