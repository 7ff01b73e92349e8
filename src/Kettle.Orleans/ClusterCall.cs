using System.Collections.Concurrent;
using System.Text.Json;

namespace Kettle.Orleans;

/// <summary>
/// How a call is described for a silo: the process pool's plan (<see cref="ProcessCall"/>: public static method,
/// arguments and result as System.Text.Json of the declared types, refusals at submission), plus the method's
/// identity by name and assembly version, and a trailing <see cref="CancellationToken"/> parameter left to the silo.
/// </summary>
/// <remarks>Threading: immutable once made; any thread.</remarks>
internal sealed class ClusterCall
{
    private static readonly ConcurrentDictionary<System.Reflection.MethodInfo, ClusterCall> Cache = new();

    private ClusterCall(ProcessCall plan)
    {
        Plan = plan;
        var method = plan.Method;
        var assembly = method.DeclaringType!.Assembly.GetName();
        Assembly = assembly.Name!;
        AssemblyVersion = assembly.Version?.ToString() ?? string.Empty;
        Type = method.DeclaringType!.FullName!;
        ParameterTypes = method.GetParameters().Select(p => p.ParameterType.ToString()).ToArray();
    }

    public ProcessCall Plan { get; }

    public string Assembly { get; }

    public string AssemblyVersion { get; }

    public string Type { get; }

    public IReadOnlyList<string> ParameterTypes { get; }

    public string DisplayName => Plan.DisplayName;

    /// <summary>The description of <paramref name="function"/>; <see cref="ArgumentException"/> says why it cannot be sent.</summary>
    public static ClusterCall For(Delegate function, Type resultType)
    {
        var plan = ProcessCall.For(function, resultType, nameof(function), allowCancellationToken: true);
        return Cache.GetOrAdd(plan.Method, _ => new ClusterCall(plan));
    }

    /// <summary>Serializes and checks the arguments (as the process pool does); <see cref="ArgumentException"/> if one does not survive.</summary>
    public string[] SerializeArguments(IReadOnlyList<object?> arguments) =>
        Plan.SerializeArguments(arguments, "function").Select(e => e.GetRawText()).ToArray();

    public KettleCallRequest Request(string[] arguments, Guid callId, int attempt) => new()
    {
        Assembly = Assembly,
        AssemblyVersion = AssemblyVersion,
        Type = Type,
        Method = Plan.Method.Name,
        ParameterTypes = ParameterTypes,
        Arguments = arguments,
        CallId = callId,
        Attempt = attempt,
    };

    /// <summary>Reads a completed call's result as <paramref name="resultType"/> expects it.</summary>
    public object? ReadResult(string? json, Type resultType) =>
        Plan.ReadResult(json is null ? null : JsonDocument.Parse(json).RootElement.Clone(), resultType);

    public static RemoteException ToException(KettleCallError error) =>
        new(error.Type, error.Message, error.Stack, error.Inner is { } inner ? ToException(inner) : null);
}
