using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Kettle;

/// <summary>
/// Reads every running loop from a thread that is not theirs and writes what it saw as JSON: the document the
/// "Kettle" event source sends to <c>kettle ps</c>, <c>pstree</c> and <c>top</c>.
/// </summary>
/// <remarks>
/// <para>Schema version <see cref="Version"/> (docs/debugging.md describes it; LoopSnapshotTests check it). A change
/// that removes or retypes a field bumps the version; adding a field does not.</para>
/// <para>Threading: any thread but a loop's. It takes no lock a loop holds and writes nothing a loop reads. A loop
/// keeps running while it is read, so every read is racy by design: fields are read once into locals, lists are
/// copied by index and a copy cut short by a concurrent change is tolerated, and a task whose reading failed is
/// marked <c>"changing"</c>. A loop read while its iteration counter did not move is marked consistent; otherwise it
/// is read again, up to <see cref="Attempts"/> times.</para>
/// </remarks>
internal static class LoopSnapshot
{
    public const int Version = 1;
    private const int Attempts = 3;
    private const int MaxFrames = 256;

    /// <summary>KETTLE_INTROSPECTION=0 (or "false", "off") switches answering off.</summary>
    public static bool IntrospectionAllowed()
    {
        var v = Environment.GetEnvironmentVariable("KETTLE_INTROSPECTION");
        return v is null || !(v == "0" || v.Equals("false", StringComparison.OrdinalIgnoreCase) || v.Equals("off", StringComparison.OrdinalIgnoreCase));
    }

    public static string Take() => Write(w =>
    {
        w.WriteStartArray("loops");
        foreach (var loop in LiveLoops.Running())
        {
            WriteLoop(w, loop);
        }
        w.WriteEndArray();
    }, introspection: true, error: null);

    public static string Refusal() => Write(w =>
    {
        w.WriteStartArray("loops");
        w.WriteEndArray();
    }, introspection: false, error: null);

    public static string Failure(Exception ex) => Write(w =>
    {
        w.WriteStartArray("loops");
        w.WriteEndArray();
    }, introspection: true, error: $"{ex.GetType().Name}: {ex.Message}");

    private static string Write(Action<Utf8JsonWriter> body, bool introspection, string? error)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("version", Version);
            w.WriteNumber("pid", Environment.ProcessId);
            w.WriteString("process", Process.GetCurrentProcess().ProcessName);
            w.WriteString("takenAt", DateTime.UtcNow);
            w.WriteBoolean("introspection", introspection);
            if (error is not null)
            {
                w.WriteString("error", error);
            }
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteLoop(Utf8JsonWriter w, EventLoop loop)
    {
        List<TaskView> tasks = [];
        bool consistent = false;
        long iterations = 0;
        for (int attempt = 0; attempt < Attempts && !consistent; attempt++)
        {
            long before = Volatile.Read(ref loop.iterations);
            tasks = ReadTasks(loop);
            iterations = Volatile.Read(ref loop.iterations);
            consistent = before == iterations && tasks.TrueForAll(t => !t.Changing);
        }

        long now = Stopwatch.GetTimestamp();
        bool inBatch = Volatile.Read(ref loop.inBatch);
        long batch = inBatch ? Volatile.Read(ref loop.batchStartedAt) : 0;
        long step = inBatch ? Volatile.Read(ref loop.stepStartedAt) : 0;
        long observed = inBatch ? FirstSeen(loop, iterations, now) : 0;
        var current = Volatile.Read(ref loop.currentTask);
        int ready = loop.Ready.Count;

        w.WriteStartObject();
        w.WriteNumber("loop", loop.Number);
        w.WriteNumber("threadId", loop.osThreadId);
        w.WriteNumber("managedThreadId", loop.ManagedThreadId);
        w.WriteBoolean("debug", loop.Debug);
        w.WriteNumber("iterations", iterations);
        w.WriteNumber("readyQueue", ready);
        w.WriteNumber("timers", loop.Timers.Count);
        w.WriteNumber("liveTasks", loop.LiveTaskCount);
        w.WriteBoolean("consistent", consistent);
        // Lag: while a batch runs and items wait behind it, they have waited at least since the batch began.
        w.WriteNumber("lagSeconds", batch != 0 && ready > 0 ? Stopwatch.GetElapsedTime(batch, now).TotalSeconds : 0.0);
        if (inBatch)
        {
            // A step (or callback) is running now. Debug mode times each step ("step"); otherwise the batch start
            // bounds it from above ("batch"); before the loop records batch starts, it has run at least since an
            // earlier snapshot saw the same iteration ("observed", 0 the first time).
            w.WriteStartObject("running");
            if (current is not null)
            {
                w.WriteNumber("taskId", current.id);
                w.WriteString("taskName", current.Name);
                w.WriteString("frame", (Volatile.Read(ref loop.stepFrame) ?? current).CoroutineName);
            }
            else
            {
                w.WriteNull("taskId");
                w.WriteNull("taskName");
                w.WriteNull("frame");
            }
            w.WriteNumber("forSeconds", Stopwatch.GetElapsedTime(step != 0 ? step : batch != 0 ? batch : observed, now).TotalSeconds);
            w.WriteString("timing", step != 0 ? "step" : batch != 0 ? "batch" : "observed");
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("running");
        }

        w.WriteStartArray("slowSteps");
        foreach (var s in loop.SlowSteps.Copy())
        {
            w.WriteStartObject();
            w.WriteString("what", s.What);
            w.WriteString("frame", s.Frame);
            w.WriteNumber("seconds", s.Took.TotalSeconds);
            w.WriteNumber("agoSeconds", Stopwatch.GetElapsedTime(s.EndedAt, now).TotalSeconds);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("tasks");
        foreach (var t in tasks)
        {
            w.WriteStartObject();
            w.WriteNumber("id", t.Id);
            w.WriteString("name", t.Name);
            w.WriteString("state", t.State);
            if (t.SuspendedAt != 0 && t.State != "running")
            {
                w.WriteNumber("waitingSeconds", Math.Max(0, Stopwatch.GetElapsedTime(t.SuspendedAt, now).TotalSeconds));
            }
            else
            {
                w.WriteNull("waitingSeconds");
            }
            w.WriteBoolean("changing", t.Changing);
            w.WriteStartArray("frames");
            foreach (var f in t.Frames)
            {
                w.WriteStartObject();
                w.WriteString("name", f.Name);
                w.WriteString("file", f.File ?? "");
                w.WriteNumber("line", f.Line);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("awaitedBy");
            foreach (var a in t.AwaitedBy)
            {
                w.WriteNumberValue(a);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    // Per loop: the iteration a snapshot last found running, and when it first did.
    private static readonly ConditionalWeakTable<EventLoop, StrongBox<(long Iteration, long Since)>> Seen = new();

    private static long FirstSeen(EventLoop loop, long iteration, long now)
    {
        var box = Seen.GetValue(loop, _ => new StrongBox<(long, long)>((-1, 0)));
        lock (box)
        {
            if (box.Value.Iteration != iteration)
            {
                box.Value = (iteration, now);
            }
            return box.Value.Since;
        }
    }

    private sealed class TaskView
    {
        public long Id;
        public string Name = "";
        public string State = "";
        public long SuspendedAt;
        public bool Changing;
        public List<(string Name, string? File, int Line)> Frames = [];
        public List<long> AwaitedBy = [];
    }

    private static List<TaskView> ReadTasks(EventLoop loop)
    {
        var (slots, high) = loop.TaskSlotsForSnapshot();
        var current = Volatile.Read(ref loop.currentTask);
        bool inBatch = Volatile.Read(ref loop.inBatch);
        var result = new List<TaskView>();
        for (int i = 0; i < high; i++)
        {
            var t = slots.ReadRacily(i);
            if (t is null || t.IsDone || t.IsPlainFuture)
            {
                continue;
            }
            var view = new TaskView { Id = t.id };
            try
            {
                view.Name = t.Name;
                var flags = t.flags;
                bool running = inBatch && ReferenceEquals(current, t);
                view.State = running ? "running"
                    : (flags & AioTask.FlagStarted) == 0 ? "ready"
                    : (flags & AioTask.FlagBlockedOutside) != 0 ? "waiting outside"
                    : "waiting";
                view.SuspendedAt = t.extras?.SuspendedAt ?? 0;
                view.Changing = !ReadFrames(t, running ? Volatile.Read(ref loop.stepFrame) : null, view.Frames);
                ReadAwaiters(t, t, view.AwaitedBy, 0);
            }
            catch (Exception ex) when (ex is NullReferenceException or InvalidOperationException or ArgumentException or InvalidCastException or IndexOutOfRangeException)
            {
                // The loop changed what we were walking; say so rather than guess.
                view.Changing = true;
            }
            result.Add(view);
        }
        return result;
    }

    /// <summary>The task's frames, innermost first; false if the chain changed under us.</summary>
    private static bool ReadFrames(AioTask task, AioTask? runningFrame, List<(string, string?, int)> into)
    {
        var f = runningFrame ?? CallGraphBuilder.BoxOf(Volatile.Read(ref task.resumeFrame));
        while (f is not null && into.Count < MaxFrames)
        {
            Add(f);
            if (ReferenceEquals(f, task))
            {
                return true;
            }
            f = Volatile.Read(ref f.resumeFrame) as AioTask;
        }
        if (into.Count >= MaxFrames)
        {
            return false;
        }
        // Not started, waiting on a foreign awaitable, or a chain cut by a foreign frame: end at the task's own frame.
        Add(task);
        return true;

        void Add(AioTask frame)
        {
            var at = SourceLocations.Of(frame);
            into.Add((frame.CoroutineName, at?.File, at?.Line ?? 0));
        }
    }

    /// <summary>The ids of the tasks awaiting <paramref name="task"/>; a plain future in between (gather's) stands for
    /// whoever awaits it.</summary>
    private static void ReadAwaiters(AioTask subject, AioTask task, List<long> into, int depth)
    {
        if (depth > 8)
        {
            return;
        }
        if (task.extras?.AwaitedBy is { } explicitly)
        {
            foreach (var a in CopyOf(explicitly))
            {
                Add(a);
            }
        }
        switch (Volatile.Read(ref task.waiters))
        {
            case List<object> list:
                foreach (var w in CopyOf(list))
                {
                    FromWaiter(w);
                }
                break;
            case { } single:
                FromWaiter(single);
                break;
        }

        void FromWaiter(object? w) => Add(CallGraphBuilder.AwaiterFor(w, task));

        void Add(AioTask? a)
        {
            if (a is null || a.IsDone || ReferenceEquals(a, subject))
            {
                return;
            }
            if (a.IsPlainFuture)
            {
                ReadAwaiters(subject, a, into, depth + 1);
            }
            else if (!into.Contains(a.id))
            {
                into.Add(a.id);
            }
        }
    }

    /// <summary>A copy of a list the loop may be changing: read by index up to the count seen first; an index that
    /// vanished meanwhile ends the copy.</summary>
    private static List<T> CopyOf<T>(List<T> list)
    {
        int n = list.Count;
        var copy = new List<T>(n);
        for (int i = 0; i < n; i++)
        {
            try
            {
                copy.Add(list[i]);
            }
            catch (ArgumentOutOfRangeException)
            {
                break;
            }
        }
        return copy;
    }
}
