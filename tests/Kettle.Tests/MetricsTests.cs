using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Kettle.Tests;

public class MetricsTests
{
    /// <summary>Listens to the "Kettle" meter; other tests run in parallel, so counts are lower bounds.</summary>
    private sealed class KettleListener : IDisposable
    {
        private readonly MeterListener listener = new();
        private readonly List<(string Name, double Value)> seen = new();

        public KettleListener()
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Kettle")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((i, v, _, _) => Add(i.Name, v));
            listener.SetMeasurementEventCallback<int>((i, v, _, _) => Add(i.Name, v));
            listener.SetMeasurementEventCallback<double>((i, v, _, _) => Add(i.Name, v));
            listener.Start();
        }

        private void Add(string name, double value)
        {
            lock (seen)
            {
                seen.Add((name, value));
            }
        }

        public void Observe() => listener.RecordObservableInstruments();

        public double[] Values(string name)
        {
            lock (seen)
            {
                return seen.Where(s => s.Name == name).Select(s => s.Value).ToArray();
            }
        }

        public void Dispose() => listener.Dispose();
    }

    [Fact]
    public void Meter_CountsTasksAndObservesAliveAndReadyQueue()
    {
        using var metrics = new KettleListener();
        static async Coroutine Main(KettleListener m)
        {
            var tasks = Enumerable.Range(0, 5).Select(_ => Aio.CreateTask(Co.Sleep(1))).ToArray();
            m.Observe(); // five children queued, plus main: alive >= 6 for this loop
            await Aio.Gather(tasks);
        }

        Virtual.Run(Main(metrics));

        Assert.True(metrics.Values("kettle.tasks.created").Sum() >= 6);
        Assert.Contains(metrics.Values("kettle.tasks.alive"), v => v >= 6);
        Assert.Contains(metrics.Values("kettle.ready_queue.depth"), v => v >= 5);
        Assert.NotEmpty(metrics.Values("kettle.executor.pending"));
    }

    [Fact]
    public void Meter_SlowStepsCountedWithoutDebugMode_AndLoopLagSampled()
    {
        using var metrics = new KettleListener();
        static async Coroutine Hog()
        {
            await Aio.Yield();
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < 300)
            {
                Thread.SpinWait(100);
            }
        }

        static async Coroutine Main()
        {
            var a = Aio.CreateTask(Hog());
            var b = Aio.CreateTask(Co.Sleep(0));
            await a;
            await b;
        }

        var options = new RunOptions { TimeProvider = new VirtualClock(), HandleCtrlC = false, Debug = false, SlowCallbackDuration = TimeSpan.FromMilliseconds(20) };
        Aio.Run(Main(), options);

        Assert.True(metrics.Values("kettle.steps.slow").Sum() >= 1);
        Assert.NotEmpty(metrics.Values("kettle.loop.lag"));
        Assert.All(metrics.Values("kettle.loop.lag"), v => Assert.True(v >= 0));
    }

    [Fact]
    public void Meter_PublishesItsInstrumentsUnderTheNameKettle()
    {
        static async Coroutine Main() => await Aio.Sleep(1);
        Virtual.Run(Main());

        var names = new List<string>();
        using var probe = new MeterListener
        {
            InstrumentPublished = (i, _) =>
            {
                if (i.Meter.Name == "Kettle")
                {
                    names.Add(i.Name);
                }
            },
        };
        probe.Start();
        Assert.Contains("kettle.loop.lag", names);
        Assert.Contains("kettle.tasks.alive", names);
    }
}
