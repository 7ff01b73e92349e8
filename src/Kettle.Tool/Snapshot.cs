using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kettle.Tool;

/// <summary>
/// What a Kettle process answers (schema version 1, written by Kettle's LoopSnapshot): every running loop, its
/// tasks, their frames (innermost first) and who awaits them.
/// </summary>
internal sealed class Snapshot
{
    public const int SupportedVersion = 1;

    public int Version { get; init; }
    public int Pid { get; init; }
    public string Process { get; init; } = "";
    public DateTime TakenAt { get; init; }
    public bool Introspection { get; init; }
    public string? Error { get; init; }
    public List<LoopView> Loops { get; init; } = [];

    private static readonly JsonSerializerOptions Options = new() { PropertyNameCaseInsensitive = true };

    public static Snapshot Parse(string json)
    {
        var s = JsonSerializer.Deserialize<Snapshot>(json, Options) ?? throw new JsonException("empty snapshot");
        if (s.Version != SupportedVersion)
        {
            throw new ToolException(ExitCodes.Failed,
                $"kettle: process {s.Pid} answered with snapshot version {s.Version}; this kettle reads version {SupportedVersion}. Use the kettle tool of the same Kettle release.");
        }
        return s;
    }
}

internal sealed class LoopView
{
    public int Loop { get; init; }
    public long ThreadId { get; init; }
    public int ManagedThreadId { get; init; }
    public bool Debug { get; init; }
    public long Iterations { get; init; }
    public int ReadyQueue { get; init; }
    public int Timers { get; init; }
    public int LiveTasks { get; init; }
    public bool Consistent { get; init; }
    public double LagSeconds { get; init; }
    public RunningStep? Running { get; init; }
    public List<SlowStepView> SlowSteps { get; init; } = [];
    public List<TaskView> Tasks { get; init; } = [];

    /// <summary>The thread id shown in ps: the operating system's, else the managed one.</summary>
    [JsonIgnore]
    public long Tid => ThreadId != 0 ? ThreadId : ManagedThreadId;
}

internal sealed class RunningStep
{
    public long? TaskId { get; init; }
    public string? TaskName { get; init; }
    public string? Frame { get; init; }
    public double ForSeconds { get; init; }
    /// <summary>"step": timed exactly (debug mode); "batch": at most (since its batch began); "observed": at least
    /// (since an earlier request saw it running).</summary>
    public string Timing { get; init; } = "";
}

internal sealed class SlowStepView
{
    public string What { get; init; } = "";
    public string? Frame { get; init; }
    public double Seconds { get; init; }
    public double AgoSeconds { get; init; }
}

internal sealed class TaskView
{
    public long Id { get; init; }
    public string Name { get; init; } = "";
    public string State { get; init; } = "";
    public double? WaitingSeconds { get; init; }
    public bool Changing { get; init; }
    public List<FrameView> Frames { get; init; } = [];
    public List<long> AwaitedBy { get; init; } = [];
}

internal sealed class FrameView
{
    public string Name { get; init; } = "";
    public string File { get; init; } = "";
    public int Line { get; init; }

    /// <summary>asyncio's frame label: "name file:line", or just the name when the place is unknown.</summary>
    public override string ToString() => File.Length == 0 && Line == 0 ? Name : $"{Name} {File}:{Line}";
}
