<?cs include:"header.cs" ?>
<?cs if:Scope.Kind == "plan" ?><p class="sub"><a href="<?cs var:Prefix ?>/admin/plans">Plans</a> / <a href="<?cs var:Prefix ?>/admin/plans/<?cs var:url_escape(Plan.Name) ?>"><?cs var:Plan.Name ?></a> /</p><?cs /if ?>
<h1>Routes <small class="muted"><?cs if:Scope.Kind == "plan" ?>plan <?cs /if ?><?cs var:Scope.Title ?></small></h1>
<section class="card">
  <p class="sub">A route sends a model name or an alias to a list of targets, tried tier by tier (a weighted draw within a tier); a call falls over to the next target on 429, 5xx, a timeout or an open breaker, as long as nothing was streamed yet. <?cs if:Scope.Kind == "plan" ?>A plan's routes apply to each of its tenants that has no route of that name of its own.<?cs else ?>The tenant's own routes hide its plan's of the same name (change those on the plan's page).<?cs /if ?></p>
  <?cs if:subcount(Routes) == 0 ?>
  <p class="empty">No routes: every model name is called as the catalogue says.</p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Name</th><th>Of</th><th>Targets (tier, weight: provider / model, credential)</th><th>Set</th><?cs if:User.Role != "support" && Scope.CanWrite ?><th></th><?cs /if ?></tr></thead>
    <tbody>
    <?cs each:rt = Routes ?>
    <tr><td><code><?cs var:rt.Name ?></code></td>
      <td><?cs if:rt.Owner == "plan" ?><span class="badge">plan</span><?cs else ?>tenant<?cs /if ?></td>
      <td><?cs var:rt.Targets ?></td>
      <td><?cs var:rt.Updated ?></td>
      <?cs if:User.Role != "support" && Scope.CanWrite ?><td><?cs if:rt.Owner == Scope.Kind ?><form class="inline" method="post" action="<?cs var:Prefix ?><?cs var:Scope.Base ?>/delete" data-confirm="Delete this route?">
        <input type="hidden" name="csrf" value="<?cs var:Csrf ?>"><input type="hidden" name="name" value="<?cs var:rt.Name ?>"><button type="submit" class="danger">Delete</button></form><?cs /if ?></td><?cs /if ?>
    </tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
</section>
<?cs if:User.Role != "support" && Scope.CanWrite ?>
<section class="card">
  <h2>Set or replace a route</h2>
  <form class="stack" method="post" action="<?cs var:Prefix ?><?cs var:Scope.Base ?>">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Name (a model or an alias) <input type="text" name="name" required maxlength="127" value="<?cs var:Form.Name ?>"></label>
    <label>Targets (JSON) <textarea name="targets" rows="6" required maxlength="4096" placeholder='[{"provider": "openai", "model": "gpt-4o-mini", "credential": "pool:a", "tier": 1, "weight": 3}, {"provider": "openrouter", "model": "gpt-4o-mini", "credential": "platform", "tier": 2}]'><?cs var:Form.Targets ?></textarea></label>
    <p class="sub">Each target: <code>model</code> (a chat model), <code>provider</code> (default: the model's), <code>credential</code> (<code>auto</code>, <code>platform</code>, <code>tenant</code> or <code>pool:NAME</code>), <code>tier</code> (default: its position), <code>weight</code> (default 1).</p>
    <button type="submit" class="primary">Save route</button>
  </form>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
