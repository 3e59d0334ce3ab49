<?cs include:"header.cs" ?>
<h1>Dashboard access <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<section class="card">
  <p>Who may use this tenant's dashboard accounts, from where and for how long.<?cs if:AccessEdit ?> An empty field takes the plan's or the global value.<?cs /if ?></p>
  <dl class="facts">
  <?cs each:a = Access ?>
    <dt><code><?cs var:a.Name ?></code></dt>
    <dd><?cs var:a.Value ?> <small class="muted">(<?cs var:a.Source ?>)</small></dd>
  <?cs /each ?>
  </dl>
</section>
<?cs if:AccessEdit ?>
<section class="card">
  <h2>This tenant's values</h2>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/access">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
  <?cs each:a = Access ?>
    <label><code><?cs var:a.Name ?></code> <small class="muted"><?cs var:a.Help ?></small>
    <?cs if:a.Name == "dashboard_mfa" ?><select name="<?cs var:a.Name ?>">
        <option value=""<?cs if:!a.Own ?> selected<?cs /if ?>>(inherit)</option>
        <option value="optional"<?cs if:a.Own == "optional" ?> selected<?cs /if ?>>optional</option>
        <option value="required"<?cs if:a.Own == "required" ?> selected<?cs /if ?>>required</option>
      </select><?cs else ?><input name="<?cs var:a.Name ?>" maxlength="1000" value="<?cs var:a.Own ?>"><?cs /if ?></label>
  <?cs /each ?>
    <button type="submit" class="primary">Save</button>
  </form>
</section>
<?cs /if ?>
<p><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>">Back to the tenant</a></p>
<?cs include:"footer.cs" ?>
