using MudBlazor;

namespace ApprovalStudio.Web.Components.Shared;

/// <summary>What the lists with server-side paging (inbox, history) do when their filter changes.</summary>
public static class ServerTables
{
    /// <summary>A changed filter starts again at the first page (moving there loads it); on the first page, it reloads.</summary>
    public static Task RestartAsync<T>(this MudTable<T>? table)
    {
        if (table is { CurrentPage: > 0 })
        {
            table.NavigateTo(0);
            return Task.CompletedTask;
        }

        return table?.ReloadServerData() ?? Task.CompletedTask;
    }
}
