using Orleans;

namespace Kettle.Orleans;

/// <summary>
/// One call as it travels to a silo: the method's identity (assembly name and version, declaring type, method name,
/// parameter types as text) and the arguments as System.Text.Json text of the declared parameter types. No code and
/// no type to instantiate travels: the silo looks the method up in its allow-list of job assemblies.
/// asyncio counterpart: the work item <c>concurrent.futures.ProcessPoolExecutor</c> pickles for a worker.
/// </summary>
/// <remarks>Threading: immutable once sent; any thread.</remarks>
[GenerateSerializer]
[Immutable]
[Alias("Kettle.Orleans.KettleCallRequest")]
public sealed class KettleCallRequest
{
    /// <summary>The simple name of the assembly that declares the method.</summary>
    [Id(0)]
    public string Assembly { get; init; } = string.Empty;

    /// <summary>The assembly version the caller was built against; a silo with another version refuses the call.</summary>
    [Id(1)]
    public string AssemblyVersion { get; init; } = string.Empty;

    /// <summary>The declaring type's full name.</summary>
    [Id(2)]
    public string Type { get; init; } = string.Empty;

    /// <summary>The method's name.</summary>
    [Id(3)]
    public string Method { get; init; } = string.Empty;

    /// <summary>The parameter types, as text (<c>Type.ToString()</c>), to pick the overload.</summary>
    [Id(4)]
    public IReadOnlyList<string> ParameterTypes { get; init; } = [];

    /// <summary>Each argument as JSON text of its declared type (JSON <c>null</c> for a trailing cancellation token).</summary>
    [Id(5)]
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>Identifies the call across retries, for logs.</summary>
    [Id(6)]
    public Guid CallId { get; init; }

    /// <summary>1 for the first attempt, then 2, 3...</summary>
    [Id(7)]
    public int Attempt { get; init; }
}

/// <summary>
/// How a call ended on the silo. asyncio counterpart: a process-pool worker's result item holding a value or an
/// exception. Threading: a value; any thread.
/// </summary>
public enum KettleCallStatus
{
    /// <summary>The method returned; the result is in <see cref="KettleCallReply.Result"/>.</summary>
    Completed = 0,

    /// <summary>The method threw; the exception is in <see cref="KettleCallReply.Error"/>.</summary>
    Raised = 1,

    /// <summary>The silo refused the call before running it (not allowed, other version, no such method); see <see cref="KettleCallReply.Error"/>.</summary>
    Rejected = 2,
}

/// <summary>
/// A silo's reply to a <see cref="KettleCallRequest"/>: the result as JSON text of the declared return type, or an
/// exception as text, and where the call ran. asyncio counterpart: the result item a process-pool worker sends back.
/// </summary>
/// <remarks>Threading: immutable once sent; any thread.</remarks>
[GenerateSerializer]
[Immutable]
[Alias("Kettle.Orleans.KettleCallReply")]
public sealed class KettleCallReply
{
    /// <summary>How the call ended.</summary>
    [Id(0)]
    public KettleCallStatus Status { get; init; }

    /// <summary>The result as JSON text (null for a method returning void, or on failure).</summary>
    [Id(1)]
    public string? Result { get; init; }

    /// <summary>The exception (<see cref="KettleCallStatus.Raised"/>) or the reason for the refusal.</summary>
    [Id(2)]
    public KettleCallError? Error { get; init; }

    /// <summary>The silo that ran the call (its name).</summary>
    [Id(3)]
    public string Silo { get; init; } = string.Empty;
}

/// <summary>
/// An exception as text: type name, message, stack, inner exception. asyncio counterpart: the
/// <c>_RemoteTraceback</c> a process pool attaches. Threading: immutable; any thread.
/// </summary>
[GenerateSerializer]
[Immutable]
[Alias("Kettle.Orleans.KettleCallError")]
public sealed class KettleCallError
{
    /// <summary>The exception type's full name.</summary>
    [Id(0)]
    public string Type { get; init; } = "System.Exception";

    /// <summary>The message.</summary>
    [Id(1)]
    public string Message { get; init; } = string.Empty;

    /// <summary>The stack trace on the silo, as text.</summary>
    [Id(2)]
    public string? Stack { get; init; }

    /// <summary>The inner exception, carried the same way.</summary>
    [Id(3)]
    public KettleCallError? Inner { get; init; }
}
