namespace Kettle.Tests;

public class VirtualClockTests
{
    [Fact]
    public void Sleep_OneHour_LoopTimeAdvancesExactly()
    {
        static async Coroutine<(double Start, double End)> Main()
        {
            var loop = Aio.GetRunningLoop();
            double start = loop.Time;
            await Aio.Sleep(3600);
            return (start, loop.Time);
        }

        var clock = new VirtualClock();
        var (start, end) = Aio.Run(Main(), new RunOptions { TimeProvider = clock, HandleCtrlC = false });

        Assert.Equal(3600.0, end - start);
        Assert.Equal(TimeSpan.FromHours(1), clock.Elapsed);
    }

    [Fact]
    public void Sleep_DifferentLengths_WakeInDeadlineOrder()
    {
        static async Coroutine<string> Sleeper(string name, double seconds, List<string> log)
        {
            await Aio.Sleep(seconds);
            log.Add($"{name}@{Aio.GetRunningLoop().Time}");
            return name;
        }

        static async Coroutine<List<string>> Main()
        {
            var log = new List<string>();
            var tasks = new[]
            {
                Aio.CreateTask(Sleeper("five", 5, log)),
                Aio.CreateTask(Sleeper("one", 1, log)),
                Aio.CreateTask(Sleeper("three", 3, log)),
                Aio.CreateTask(Sleeper("half", 0.5, log)),
            };
            foreach (var t in tasks)
            {
                await t;
            }
            return log;
        }

        Assert.Equal(["half@0.5", "one@1", "three@3", "five@5"], Virtual.Run(Main()));
    }

    [Fact]
    public void Sleep_TimeSpanAndResultOverloads_SleepAndReturnValue()
    {
        static async Coroutine<(string, double)> Main()
        {
            await Aio.Sleep(TimeSpan.FromMinutes(2));
            var v = await Aio.Sleep(3, "value");
            var w = await Aio.Sleep(TimeSpan.FromSeconds(5), "!");
            return (v + w, Aio.GetRunningLoop().Time);
        }

        Assert.Equal(("value!", 128.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Sleep_ZeroOrNegative_YieldsOnceWithoutAdvancingTime()
    {
        static async Coroutine<(List<string>, double)> Main()
        {
            var log = new List<string>();
            Aio.GetRunningLoop().CallSoon(() => log.Add("callback"));
            await Aio.Sleep(-1);
            log.Add("after negative sleep");
            Aio.GetRunningLoop().CallSoon(() => log.Add("callback 2"));
            await Aio.Sleep(0);
            log.Add("after zero sleep");
            return (log, Aio.GetRunningLoop().Time);
        }

        var (log, time) = Virtual.Run(Main());

        Assert.Equal(["callback", "after negative sleep", "callback 2", "after zero sleep"], log);
        Assert.Equal(0.0, time);
    }

    [Fact]
    public void Yield_TwoTasks_Alternate()
    {
        static async Coroutine Pinger(string name, List<string> log)
        {
            for (int i = 0; i < 3; i++)
            {
                log.Add($"{name}{i}");
                await Aio.Yield();
            }
        }

        static async Coroutine<List<string>> Main()
        {
            var log = new List<string>();
            var a = Aio.CreateTask(Pinger("a", log));
            var b = Aio.CreateTask(Pinger("b", log));
            await a;
            await b;
            return log;
        }

        Assert.Equal(["a0", "b0", "a1", "b1", "a2", "b2"], Virtual.Run(Main()));
    }

    [Fact]
    public void VirtualTime_ForeignAwaitInFlight_DoesNotJumpPastIt()
    {
        static async Coroutine RealWork(List<(string, double)> log)
        {
            await Task.Run(() => Thread.Sleep(50));
            log.Add(("real work", Aio.GetRunningLoop().Time));
        }

        static async Coroutine VirtualSleep(List<(string, double)> log)
        {
            await Aio.Sleep(10);
            log.Add(("virtual sleep", Aio.GetRunningLoop().Time));
        }

        static async Coroutine<List<(string, double)>> Main()
        {
            var log = new List<(string, double)>();
            var a = Aio.CreateTask(RealWork(log));
            var b = Aio.CreateTask(VirtualSleep(log));
            await a;
            await b;
            return log;
        }

        List<(string, double)> log = [];
        HangGuard.Run(() => log = Virtual.Run(Main()));

        Assert.Equal([("real work", 0.0), ("virtual sleep", 10.0)], log);
    }

    [Fact]
    public void VirtualClock_StartOffset_LoopTimeStartsThere()
    {
        static async Coroutine<double> Main()
        {
            await Aio.Sleep(1);
            return Aio.GetRunningLoop().Time;
        }

        var clock = new VirtualClock(TimeSpan.FromHours(1));

        Assert.Equal(3601.0, Aio.Run(Main(), new RunOptions { TimeProvider = clock, HandleCtrlC = false }));
        Assert.Equal(DateTimeOffset.UnixEpoch + TimeSpan.FromSeconds(3601), clock.GetUtcNow());
    }

    [Fact]
    public void VirtualClock_Advance_MovesForwardOnlyAndFiresDueTimers()
    {
        var clock = new VirtualClock();
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(2), clock.Elapsed);
        Assert.Throws<ArgumentOutOfRangeException>(() => clock.Advance(TimeSpan.FromSeconds(-1)));

        using var loop = new EventLoop(new RunOptions { TimeProvider = clock });
        var log = new List<string>();
        loop.CallLater(5, () => log.Add("at 7"));
        loop.CallSoon(() =>
        {
            clock.Advance(TimeSpan.FromSeconds(10)); // past the timer: it fires next iteration without a jump
            loop.CallSoon(() => loop.CallSoon(loop.Stop));
        });
        loop.RunForever();

        Assert.Equal(["at 7"], log);
        Assert.Equal(12.0, loop.Time);
    }

    [Fact]
    public void VirtualClock_TimeProviderAndTimestamp_AgreeWithLoopTime()
    {
        static async Coroutine<(double Time, long Stamp, long Frequency)> Main()
        {
            await Aio.Sleep(2.5);
            var loop = Aio.GetRunningLoop();
            return (loop.Time, loop.TimeProvider.GetTimestamp(), loop.TimeProvider.TimestampFrequency);
        }

        var (time, stamp, frequency) = Virtual.Run(Main());

        Assert.Equal(2.5, time);
        Assert.Equal(2.5, stamp / (double)frequency);
    }
}
