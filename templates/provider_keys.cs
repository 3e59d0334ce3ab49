<?cs include:"header.cs" ?>
<h1>Provider keys <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<section class="card">
  <p class="sub">With its own key for a provider, this tenant's calls to that provider use and are billed to that key; without one they use the platform's key.</p>
  <?cs if:subcount(Providers) == 0 ?>
  <p class="empty">No providers are configured on this server. Add a provider instance to the configuration first.</p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Provider</th><th>Tenant's own key</th><th>Set</th><?cs if:User.Role != "support" ?><th></th><?cs /if ?></tr></thead>
    <tbody>
    <?cs each:p = Providers ?>
    <tr><td><?cs var:p.Name ?><?cs if:!p.Configured ?> <span class="badge warn">not configured</span><?cs /if ?></td>
      <td><?cs if:p.Has ?><code>…<?cs var:p.Last4 ?></code><?cs else ?><span class="muted">none (platform key)</span><?cs /if ?></td>
      <td><?cs if:p.Has ?><?cs var:p.Updated ?><?cs /if ?></td>
      <?cs if:User.Role != "support" ?><td><?cs if:p.Has ?><form class="inline" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/provider-keys/<?cs var:url_escape(p.Name) ?>/clear" data-confirm="Clear this provider key?">
        <input type="hidden" name="csrf" value="<?cs var:Csrf ?>"><button type="submit" class="danger">Clear</button></form><?cs /if ?></td><?cs /if ?>
    </tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
</section>
<?cs if:User.Role != "support" && subcount(Providers) > 0 ?>
<section class="card">
  <h2>Set or replace a key</h2>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/provider-keys" autocomplete="off">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Provider <select name="provider"><?cs each:p = Providers ?><?cs if:p.Configured ?><option value="<?cs var:p.Name ?>"<?cs if:p.Name == Form.Provider ?> selected<?cs /if ?>><?cs var:p.Name ?></option><?cs /if ?><?cs /each ?></select></label>
    <label>Key <input type="password" name="key" required maxlength="1024" autocomplete="new-password"></label>
    <button type="submit" class="primary">Save key</button>
  </form>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
