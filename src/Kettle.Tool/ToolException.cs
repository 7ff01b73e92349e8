namespace Kettle.Tool;

/// <summary>The tool's exit statuses: each failure has its own, so scripts can tell them apart.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>pstree found await cycles (asyncio's status), or an unexpected failure.</summary>
    public const int Failed = 1;
    /// <summary>Bad arguments (usage printed).</summary>
    public const int Usage = 2;
    public const int NoSuchProcess = 3;
    public const int NotDotNet = 4;
    public const int NoKettle = 5;
    public const int PermissionDenied = 6;
    public const int ExitedMidRead = 7;
    public const int IntrospectionOff = 8;
}

/// <summary>A failure with its message for standard error and its exit status.</summary>
internal sealed class ToolException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
