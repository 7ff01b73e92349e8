using System.Diagnostics.Tracing;

namespace Kettle;

/// <summary>
/// The "Kettle" event source: answers the <c>kettle</c> tool (ps, pstree, top) with a snapshot of every running loop.
/// </summary>
/// <remarks>
/// <para>How a request works: the tool opens an EventPipe session on the process's diagnostics socket, enabling this
/// provider with the <see cref="Keywords.Snapshot"/> keyword and the argument <c>kettle.request=ID</c>. The runtime
/// calls <see cref="OnEventCommand"/> on the diagnostics server's thread; it starts a thread of its own that reads
/// every running loop (<see cref="LoopSnapshot"/>) and writes the JSON as <see cref="Snapshot"/> events (chunked), each
/// tagged with ID. Neither thread is a loop thread, and neither takes a lock a loop holds: a loop that is busy or
/// stuck in a step still answers, and the answer says which step runs and for how long.</para>
/// <para>Who may ask: whoever may connect to the diagnostics socket, which the runtime creates for the process's own
/// user only. <c>KETTLE_INTROSPECTION=0</c> in the process's environment makes it answer with a refusal, without
/// reading any loop; <c>DOTNET_EnableDiagnostics=0</c> removes the socket altogether.</para>
/// <para>Threading: any thread.</para>
/// </remarks>
[EventSource(Name = SourceName)]
internal sealed class KettleEventSource : EventSource
{
    public const string SourceName = "Kettle";

    /// <summary>The provider argument that carries the request's id; a session without it gets no snapshot.</summary>
    public const string RequestArgument = "kettle.request";

    /// <summary>JSON characters per event: EventPipe caps an event at 64 KB, and strings travel as UTF-16.</summary>
    internal const int ChunkChars = 16_000;

    public static readonly KettleEventSource Log = new();

    private KettleEventSource()
    {
    }

    /// <summary>Creates the source (it registers with the runtime then), so sessions can find the provider.</summary>
    public static void EnsureCreated() => GC.KeepAlive(Log);

    public static class Keywords
    {
        public const EventKeywords Snapshot = (EventKeywords)1;
    }

    /// <summary>One chunk of a snapshot: chunks 0..<paramref name="chunkCount"/>-1 joined make the JSON document.</summary>
    [Event(1, Level = EventLevel.Informational, Keywords = Keywords.Snapshot, Version = 1)]
    public void Snapshot(string request, int chunk, int chunkCount, string json) => WriteEvent(1, request, chunk, chunkCount, json);

    /// <summary>Written after the last chunk, every <see cref="TickInterval"/> while the session lasts (at most
    /// <see cref="TickLimit"/>): EventPipe readers (TraceEvent) hold back events that no later event follows
    /// (dotnet/runtime#76704), so the snapshot reaches the tool only once something comes after it.</summary>
    [Event(2, Level = EventLevel.Informational, Keywords = Keywords.Snapshot, Version = 1)]
    public void SnapshotSent(string request) => WriteEvent(2, request);

    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan TickLimit = TimeSpan.FromSeconds(30);

    protected override void OnEventCommand(EventCommandEventArgs command)
    {
        if (command.Command != EventCommand.Enable || command.Arguments is null
            || !command.Arguments.TryGetValue(RequestArgument, out var request) || string.IsNullOrEmpty(request))
        {
            return;
        }
        // From now on loops stamp each batch's start, so the next request can say how long a step has run.
        EventLoop.TimeBatches = true;
        // Not on the caller's thread: the runtime holds EventSource's locks while it calls us.
        var answer = new Thread(() => Answer(request)) { IsBackground = true, Name = "Kettle introspection" };
        answer.Start();
    }

    private void Answer(string request)
    {
        string json;
        try
        {
            json = LoopSnapshot.IntrospectionAllowed() ? LoopSnapshot.Take() : LoopSnapshot.Refusal();
        }
        catch (Exception ex)
        {
            // A snapshot is best effort: say what went wrong rather than leave the tool waiting.
            json = LoopSnapshot.Failure(ex);
        }
        int count = Math.Max(1, (json.Length + ChunkChars - 1) / ChunkChars);
        for (int i = 0; i < count; i++)
        {
            int start = i * ChunkChars;
            Snapshot(request, i, count, json.Substring(start, Math.Min(ChunkChars, json.Length - start)));
        }
        var sent = System.Diagnostics.Stopwatch.StartNew();
        while (IsEnabled(EventLevel.Informational, Keywords.Snapshot) && sent.Elapsed < TickLimit)
        {
            SnapshotSent(request);
            Thread.Sleep(TickInterval);
        }
    }
}
