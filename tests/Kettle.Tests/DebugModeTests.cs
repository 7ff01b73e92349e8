using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Kettle.Tests;

/// <summary>Collects log lines; a test double for ILoggerFactory.</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory
{
    private readonly List<string> lines = new();

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (lines)
            {
                return lines.ToArray();
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner.lines)
            {
                owner.lines.Add($"{logLevel}: {formatter(state, exception)}");
            }
        }
    }
}

public class DebugModeTests
{
    private static RunOptions DebugOptions(ILoggerFactory? logs = null, double slowMs = 100) => new()
    {
        TimeProvider = new VirtualClock(),
        HandleCtrlC = false,
        Debug = true,
        LoggerFactory = logs,
        SlowCallbackDuration = TimeSpan.FromMilliseconds(slowMs),
    };

    private static async Coroutine HoldTheLoop(double ms)
    {
        await Aio.Yield();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalMilliseconds < ms)
        {
            Thread.SpinWait(100);
        }
    }

    [Fact]
    public void SlowStep_DebugMode_LoggedWithTaskNameMethodAndSource()
    {
        var logs = new CapturingLoggerFactory();
        static async Coroutine Main()
        {
            await Aio.CreateTask(HoldTheLoop(400), "the-hog");
        }

        Aio.Run(Main(), DebugOptions(logs, slowMs: 20));

        // Only the hog's step is asserted on: on a loaded machine another step may also pass 20 ms and be logged.
        var line = Assert.Single(logs.Lines, l => l.Contains("took", StringComparison.Ordinal) && l.Contains("the-hog", StringComparison.Ordinal));
        Assert.StartsWith("Warning: Executing <Task", line, StringComparison.Ordinal);
        Assert.Contains("name='the-hog'", line, StringComparison.Ordinal);
        Assert.Contains("HoldTheLoop", line, StringComparison.Ordinal);
        Assert.Contains("DebugModeTests.cs:", line, StringComparison.Ordinal);
    }

    [Fact]
    public void SlowStep_DebugOff_NotLogged()
    {
        var logs = new CapturingLoggerFactory();
        static async Coroutine Main() => await Aio.CreateTask(HoldTheLoop(100), "the-hog");

        var options = new RunOptions { TimeProvider = new VirtualClock(), HandleCtrlC = false, Debug = false, LoggerFactory = logs, SlowCallbackDuration = TimeSpan.FromMilliseconds(1) };
        Aio.Run(Main(), options);

        Assert.DoesNotContain(logs.Lines, l => l.Contains("took", StringComparison.Ordinal));
    }

    private static async Coroutine FailSoon()
    {
        await Aio.Sleep(1);
        throw new TestException("dropped");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CreateAndDropFailingTask() => _ = Aio.CreateTask(FailSoon());

    [Fact]
    public void NeverRetrievedException_DebugMode_ReportShowsCreationSite()
    {
        static async Coroutine Main()
        {
            CreateAndDropFailingTask();
            await Aio.Sleep(2);
        }

        var reports = new ReportCollector();
        using (var runner = new Runner(DebugOptions()))
        {
            runner.Loop.SetExceptionHandler(reports.Handle);
            runner.Run(Main());
        }

        var report = Assert.Single(reports.Matching("never retrieved"));
        Assert.NotNull(report.SourceTrace);
        Assert.Contains(nameof(CreateAndDropFailingTask), report.SourceTrace, StringComparison.Ordinal);
    }

    [Fact]
    public void NeverRetrievedException_DebugOff_NoCreationSite()
    {
        static async Coroutine Main()
        {
            CreateAndDropFailingTask();
            await Aio.Sleep(2);
        }

        var reports = new ReportCollector();
        using (var runner = new Runner(Virtual.Options()))
        {
            runner.Loop.SetExceptionHandler(reports.Handle);
            runner.Run(Main());
        }

        Assert.Null(Assert.Single(reports.Matching("never retrieved")).SourceTrace);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static AioTask ScheduleForever(EventLoop loop) => loop.CreateTask(Co.Sleep(1000), "forever");

    [Fact]
    public void PendingAtClose_DebugMode_ReportShowsCreationSite()
    {
        var reports = new ReportCollector();
        var loop = new EventLoop(DebugOptions());
        loop.SetExceptionHandler(reports.Handle);
        ScheduleForever(loop);

        loop.Close();

        var report = Assert.Single(reports.Matching("destroyed but it is pending"));
        Assert.Contains(nameof(ScheduleForever), report.SourceTrace, StringComparison.Ordinal);
        Assert.Contains("'forever'", report.Message, StringComparison.Ordinal);

        // The default handler prints it under asyncio's heading.
        var logs = new CapturingLoggerFactory();
        new EventLoop(new RunOptions { LoggerFactory = logs }).DefaultExceptionHandler(report);
        Assert.Contains("Object created at (most recent call first, as .NET prints stacks):", Assert.Single(logs.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public void PrimitiveFromAnotherThread_NamesBothThreads()
    {
        int loopThread = 0;
        async Coroutine<string> Main()
        {
            loopThread = Environment.CurrentManagedThreadId;
            var ev = new AioEvent();
            ev.Set();
            var message = await Task.Run(() => Assert.Throws<InvalidOperationException>(ev.Clear).Message);
            return message;
        }

        string msg = "";
        HangGuard.Run(() => msg = Aio.Run(Main(), Virtual.Options()));

        Assert.Contains($"thread {loopThread}", msg, StringComparison.Ordinal);
        Assert.Matches(@"called on thread \d+", msg);
        Assert.Contains("Event", msg, StringComparison.Ordinal);
    }

    private static async Task<string> PlainHelperThatLeavesTheLoop(AioEvent ev)
    {
        // ForceYielding, not plain ConfigureAwait(false): a Task.Delay already fired when awaited would go on inline.
        await Task.Delay(1).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        return Assert.Throws<InvalidOperationException>(ev.Set).Message;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ContinuationThatLeftTheLoop_DebugMode_SaysSo(bool debug)
    {
        static async Coroutine<string> Main()
        {
            var ev = new AioEvent();
            ev.Clear();
            return await PlainHelperThatLeavesTheLoop(ev);
        }

        string msg = "";
        var options = new RunOptions { TimeProvider = new VirtualClock(), HandleCtrlC = false, Debug = debug };
        HangGuard.Run(() => msg = Aio.Run(Main(), options));

        Assert.Contains("called on thread", msg, StringComparison.Ordinal);
        Assert.Equal(debug, msg.Contains("ConfigureAwait(false)", StringComparison.Ordinal));
    }

    [Fact]
    public void LoopCallFromContinuationThatLeftTheLoop_DebugMode_SaysSo()
    {
        static async Task<string> Helper(EventLoop loop)
        {
            // ForceYielding: a Task.Delay that has already fired by the time it is awaited would otherwise go on inline, on
            // the loop thread.
            await Task.Delay(1).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            return Assert.Throws<InvalidOperationException>(() => loop.CallSoon(() => { })).Message;
        }

        static async Coroutine<string> Main() => await Helper(Aio.GetRunningLoop());

        string msg = "";
        HangGuard.Run(() => msg = Aio.Run(Main(), DebugOptions()));
        Assert.Contains("a continuation left it", msg, StringComparison.Ordinal);
    }
}
